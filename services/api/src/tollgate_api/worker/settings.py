"""Worker process settings (``TOLLGATE_WORKER_*``), composed like the api's own settings."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate_common.env import Env


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    processes: int = 1
    threads: int = 4
    queues: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Env) -> WorkerSettings:
        raw_queues = env.get_str("WORKER_QUEUES", "")
        return cls(
            processes=env.get_int("WORKER_PROCESSES", 1, minimum=1, maximum=64),
            threads=env.get_int("WORKER_THREADS", 4, minimum=1, maximum=256),
            queues=tuple(q.strip() for q in raw_queues.split(",") if q.strip()),
        )
