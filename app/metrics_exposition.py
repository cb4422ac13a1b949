"""The sum of the uvicorn workers' metrics, for the serving process's port."""

import os
import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# A worker's file: <type>_<mode>_<pid>.db (prometheus_client's multiprocess mode).
_WORKER_FILE = re.compile(r"_(\d+)\.db$")


class LiveWorkersCollector(Collector):
    """prometheus_client's MultiProcessCollector, forgetting the gauges of a
    worker that died (uvicorn replaces it): a `live*` gauge of a dead worker
    would otherwise count forever."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._workers = multiprocess.MultiProcessCollector(None, path=str(directory))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        for path in self._directory.glob("gauge_live*.db"):
            found = _WORKER_FILE.search(path.name)
            if found and not _alive(int(found.group(1))):
                multiprocess.mark_process_dead(int(found.group(1)), str(self._directory))  # type: ignore[no-untyped-call]
        metrics: Iterable[Metric] = self._workers.collect()  # type: ignore[no-untyped-call]
        return metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
