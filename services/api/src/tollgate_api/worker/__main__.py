"""``python -m tollgate_api.worker``: run the api's Dramatiq actors (processes/threads from settings)."""

from __future__ import annotations

import sys

from dramatiq.cli import main as dramatiq_main

from tollgate_api.worker.settings import WorkerSettings
from tollgate_common.env import Env

ACTORS_MODULE = "tollgate_api.worker.actors"


def argv(settings: WorkerSettings) -> list[str]:
    args = ["dramatiq", ACTORS_MODULE, "--processes", str(settings.processes)]
    args += ["--threads", str(settings.threads)]
    if settings.queues:
        args += ["--queues", *settings.queues]
    return args


def main() -> None:
    sys.argv = argv(WorkerSettings.from_env(Env()))
    sys.exit(dramatiq_main())  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
