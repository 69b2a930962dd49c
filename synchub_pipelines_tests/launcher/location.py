"""A small code location for the launcher tests: it records every import of itself and, in
each run, the worker's pid and parent pid."""

import os
import time
from pathlib import Path

import dagster as dg

_IMPORT_LOG = os.environ.get("SYNCHUB_TEST_IMPORT_LOG")
if _IMPORT_LOG:
    with Path(_IMPORT_LOG).open("a") as log:
        log.write(f"{os.getpid()}\n")


class Report(dg.Config):
    folder: str
    seconds: float = 0.0


@dg.op
def report_worker(config: Report) -> None:
    Path(config.folder, f"{os.getpid()}.worker").write_text(str(os.getppid()))
    time.sleep(config.seconds)


@dg.job(executor_def=dg.in_process_executor)
def report_job() -> None:
    report_worker()


defs = dg.Definitions(jobs=[report_job])
