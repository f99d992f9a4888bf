"""``python -m tollgate_api.worker.scheduler``: send the periodic actors' messages on their cron specs.

periodiq's ``Scheduler`` does the timing (it wakes on each minute that some spec matches, UTC here);
this module adds one thing: each tick of each actor is claimed in Redis first
(``SET <prefix>scheduler:tick:<actor>:<minute> NX EX``), so two schedulers (a rolling deploy, an
operator who started a second one) send each tick once. Without the claim, the worst case would
still be harmless — every scheduled actor is idempotent — only wasteful.

Run one per deployment next to the workers (``compose.yaml`` service ``scheduler``; ``tollgate dev``
starts one). The scheduler only enqueues; workers execute.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Final

import pendulum
import redis
import structlog
from periodiq import Scheduler

from tollgate_api.settings import ApiSettings
from tollgate_api.worker.broker import build_broker, install
from tollgate_api.worker.schedule import Periodic, periodic_actors
from tollgate_common.env import Env
from tollgate_common.logging import configure_logging

_log = structlog.get_logger("tollgate.scheduler")

TICK_CLAIM_TTL_S: Final = 3600


def tick_key(prefix: str, actor_name: str, at: Any) -> str:
    """The Redis key that claims one tick of one actor (minute resolution, UTC)."""
    return f"{prefix}scheduler:tick:{actor_name}:{pendulum.instance(at).in_timezone('UTC'):%Y-%m-%dT%H:%M}"


class ClaimingScheduler(Scheduler):  # type: ignore[misc]  # periodiq ships no type hints
    """periodiq's scheduler, sending a tick only when this process claimed it in Redis."""

    def __init__(self, actors: Sequence[Periodic], client: redis.Redis, prefix: str) -> None:
        super().__init__(actors=list(actors))
        self._client = client
        self._prefix = prefix

    def claim(self, actor_name: str, at: Any) -> bool:
        return bool(
            self._client.set(tick_key(self._prefix, actor_name, at), "1", nx=True, ex=TICK_CLAIM_TTL_S)
        )

    def send_actors(self, actors: Sequence[Periodic], now: Any) -> None:
        for periodic in actors:
            if not self.claim(periodic.actor_name, now):
                _log.info("tick_claimed_elsewhere", actor_name=periodic.actor_name, at=str(now))
                continue
            periodic.send_with_options(scheduled_at=str(now))
            _log.info("tick_sent", actor_name=periodic.actor_name, at=str(now))


def build(settings: ApiSettings) -> ClaimingScheduler:
    install(build_broker(settings), settings)
    client = redis.Redis.from_url(settings.redis.url)
    return ClaimingScheduler(periodic_actors(), client, settings.redis.prefix)


def main() -> None:
    settings = ApiSettings.from_env(Env())
    configure_logging(level=settings.log.level, json=settings.log.json)
    pendulum.set_local_timezone(pendulum.timezone("UTC"))  # cron specs are UTC
    scheduler = build(settings)
    for periodic in periodic_actors():
        _log.info("scheduled", actor_name=periodic.actor_name, cron=str(periodic.spec))
    try:
        scheduler.schedule()
        scheduler.loop()
    except KeyboardInterrupt:
        _log.info("scheduler_stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
