# One image for the code location, webserver, daemon and sandbox (they share the package).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/dagster/home
WORKDIR /opt/synchub
COPY pyproject.toml README.md ./
COPY synchub_pipelines ./synchub_pipelines
RUN pip install --no-cache-dir . && mkdir -p $DAGSTER_HOME
COPY dagster.yaml workspace.yaml $DAGSTER_HOME/
COPY workspace.yaml dagster.yaml ./
