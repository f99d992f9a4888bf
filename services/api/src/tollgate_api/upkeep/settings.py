"""Upkeep settings (``TOLLGATE_UPKEEP_*``), read from the environment here only."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate_common.env import Env


@dataclass(frozen=True, slots=True)
class UpkeepSettings:
    # credits.low fires when a team's available credits drop below this (team metadata
    # ``low_credit_threshold`` overrides it per team; 0 turns the default alert off).
    low_credit_threshold: int = 100
    # Retention purge: rows per UPDATE, and at most this many batches per run.
    retention_batch: int = 1000
    retention_max_batches: int = 100
    # The scheduled reconciliation checks the last N complete UTC days (yesterday, the day before...).
    reconcile_days: int = 2
    # Months of llm_calls partitions kept ahead of now.
    partition_months_ahead: int = 3

    @classmethod
    def from_env(cls, env: Env) -> UpkeepSettings:
        return cls(
            low_credit_threshold=env.get_int("UPKEEP_LOW_CREDIT_THRESHOLD", 100, minimum=0),
            retention_batch=env.get_int("UPKEEP_RETENTION_BATCH", 1000, minimum=1, maximum=100_000),
            retention_max_batches=env.get_int("UPKEEP_RETENTION_MAX_BATCHES", 100, minimum=1),
            reconcile_days=env.get_int("UPKEEP_RECONCILE_DAYS", 2, minimum=1, maximum=31),
            partition_months_ahead=env.get_int("UPKEEP_PARTITION_MONTHS_AHEAD", 3, minimum=0, maximum=24),
        )
