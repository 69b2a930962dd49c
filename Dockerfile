# One image for every process of a deployment: the code server (gRPC), the webserver, the
# daemon, the webhook receiver and the sandbox, and for every run, because Dagster's run
# launchers (DockerRunLauncher in docker-compose.yml, K8sRunLauncher through the Helm chart)
# start each run in a new container of the image its code server reports.
FROM python:3.11-slim

# What a deployment adds to the project's own dependencies (dagster-aws, for compute logs in
# S3, is one of them already), e.g. for compute logs in Google Cloud Storage
# (deploy/README.md):  --build-arg EXTRA_PIP_PACKAGES="dagster-gcp==0.29.27"
ARG EXTRA_PIP_PACKAGES=""

# DAGSTER_HOME is the Helm chart's default path, so that the image, compose and Kubernetes
# agree on where the instance's dagster.yaml lives.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/synchub
# dbt runs from an environment of its own (dbt-core pins pathspec < 0.13); Dagster runs its
# executable for the marts.
COPY dbt-requirements.txt ./
RUN python -m venv /opt/synchub/.venv-dbt \
    && /opt/synchub/.venv-dbt/bin/pip install --no-cache-dir -r dbt-requirements.txt
ENV SYNCHUB_DBT_EXECUTABLE=/opt/synchub/.venv-dbt/bin/dbt
COPY pyproject.toml README.md ./
COPY synchub_pipelines ./synchub_pipelines
RUN pip install --no-cache-dir . ${EXTRA_PIP_PACKAGES}
# The marts' manifest is parsed once here (no database needed), not at every start.
RUN SYNCHUB_DATA_DIR=/tmp python -c \
    "from synchub_pipelines.defs.marts.resources import prepare_marts_project; prepare_marts_project()"

# Services and runs work as an unprivileged user that owns what they write: the instance
# folder, the compute logs (a volume in compose: a new volume takes this ownership), the
# merchant's files (catalog, stock policy, category tree, attributes) and the data folder.
RUN useradd --system --uid 10001 --user-group --home-dir /opt/dagster \
        --shell /usr/sbin/nologin synchub \
    && mkdir -p "$DAGSTER_HOME" /opt/dagster/compute_logs /opt/synchub/config /opt/synchub/data \
    && chown -R synchub:synchub /opt/dagster /opt/synchub/config /opt/synchub/data \
    # dbt writes each build's artifacts beside its project.
    && chown -R synchub:synchub "$(python -c 'import pathlib, synchub_pipelines as p; \
print(pathlib.Path(p.__file__).parent / "defs/marts/dbt_project")')"

# The compose deployment's instance and workspace. The Helm chart mounts its own instance
# config over dagster.yaml (deploy/dagster.yaml shows what it renders).
COPY docker/dagster.yaml docker/workspace-grpc.yaml $DAGSTER_HOME/
RUN mv "$DAGSTER_HOME/workspace-grpc.yaml" "$DAGSTER_HOME/workspace.yaml"

USER synchub
# webserver, code server (gRPC), webhook receiver, sandbox
EXPOSE 3000 4000 8790 8788
