"""When each periodic actor runs: cron specs (UTC) read by periodiq's scheduler (ADR 0008).

The schedule is one table here rather than ``periodic=`` options scattered over actor modules: the
actors stay plain Dramatiq actors (anyone may send them by hand), and the scheduler process
(:mod:`tollgate_api.worker.scheduler`) only ever *sends* messages; workers run them. Every actor in
this table is idempotent, so a tick sent twice (two schedulers, a retry) changes nothing.

=================  ======================  ==========================================================
cron (m h dom M w)  actor                   what
=================  ======================  ==========================================================
``* * * * *``       sweep_job_outbox        aggregate finished jobs whose enqueue was lost
``* * * * *``       expire_jobs             expire jobs past their TTL, release holds
``* * * * *``       deliver_due_webhooks    webhook deliveries due now (lost enqueues, retries)
``*/5 * * * *``     alert_low_credits       ``credits.low`` once per crossing
``*/5 * * * *``     alert_budgets           router key budget alerts (80 % / 100 %) once per crossing
``7 * * * *``       expire_credit_grants    expire the unused remainder of due grants
``17 * * * *``      purge_retention         null stored prompt/response text past retain_until
``30 0 * * *``      reconcile_spend         router spend vs llm_calls, the last complete days
``45 0 * * *``      maintain_partitions     llm_calls partitions for the coming months
=================  ======================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import dramatiq
from periodiq import CronSpec, cron

from tollgate_api.upkeep import actors as upkeep
from tollgate_api.webhooks import actors as webhooks
from tollgate_api.worker import actors as worker


@dataclass(frozen=True, slots=True)
class Periodic:
    """An actor and its cron spec, shaped as periodiq's ``Scheduler`` expects of an actor."""

    actor: dramatiq.Actor[Any, Any]
    spec: CronSpec

    @property
    def options(self) -> dict[str, CronSpec]:
        return {"periodic": self.spec}

    @property
    def actor_name(self) -> str:
        return str(self.actor.actor_name)

    def send_with_options(self, **options: Any) -> Any:
        return self.actor.send_with_options(**options)

    def __str__(self) -> str:
        return f"{self.actor_name}@{self.actor.queue_name} ({self.spec})"


SCHEDULE: Final[tuple[tuple[str, Any], ...]] = (
    ("* * * * *", worker.sweep_job_outbox),
    ("* * * * *", upkeep.expire_jobs),
    ("* * * * *", webhooks.deliver_due_webhooks),
    ("*/5 * * * *", upkeep.alert_low_credits),
    ("*/5 * * * *", upkeep.alert_budgets),
    ("7 * * * *", upkeep.expire_credit_grants),
    ("17 * * * *", upkeep.purge_retention),
    ("30 0 * * *", upkeep.reconcile_spend),
    ("45 0 * * *", upkeep.maintain_partitions),
)


def periodic_actors() -> list[Periodic]:
    return [Periodic(actor=a, spec=cron(spec)) for spec, a in SCHEDULE]
