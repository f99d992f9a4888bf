"""The one module that sets Dramatiq's broker (STYLE rule 11).

* Production / ``make run``: a :class:`RedisBroker` on ``settings.redis.url`` whose keys all start with
  ``settings.redis.prefix`` (namespace ``<prefix>dramatiq``), so tenants of one Redis never mix queues.
* Tests: :func:`stub_broker` (in memory), driven by a ``dramatiq.Worker``.

Actors are declared with :func:`actor` (which records them) and re-bound to whatever broker
:func:`install` sets, so the api (which only enqueues) and the worker (which also consumes) can each
install the broker built from their own settings, and a test can swap in a stub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO

from tollgate_api.settings import ApiSettings
from tollgate_common.env import Env

F = TypeVar("F", bound=Callable[..., Any])

_actors: list[dramatiq.Actor[Any, Any]] = []
_settings: list[ApiSettings] = []
NAMESPACE_SUFFIX: Final = "dramatiq"


def namespace(settings: ApiSettings) -> str:
    return settings.redis.prefix + NAMESPACE_SUFFIX


def _add_middleware(broker: dramatiq.Broker) -> None:
    from tollgate_api.worker.services import WorkerPools  # noqa: PLC0415 - services imports this module

    broker.add_middleware(WorkerPools())  # first: it closes the pools while the loop still runs
    broker.add_middleware(AsyncIO())


def build_broker(settings: ApiSettings) -> dramatiq.Broker:
    broker = RedisBroker(url=settings.redis.url, namespace=namespace(settings))  # type: ignore[no-untyped-call]
    _add_middleware(broker)
    return broker


def stub_broker() -> StubBroker:
    broker = StubBroker()
    _add_middleware(broker)
    return broker


def install(broker: dramatiq.Broker, settings: ApiSettings) -> dramatiq.Broker:
    """Make ``broker`` the process's broker and re-bind every declared actor to it."""
    dramatiq.set_broker(broker)
    _settings[:] = [settings]
    for declared in _actors:
        declared.broker = broker
        if declared.actor_name not in broker.actors:
            broker.declare_actor(declared)
    return broker


def current_settings() -> ApiSettings:
    """The settings the installed broker was built from (actors use them for their connections)."""
    if not _settings:
        install(build_broker(ApiSettings.from_env(Env())), ApiSettings.from_env(Env()))
    return _settings[0]


def current_broker() -> dramatiq.Broker:
    current_settings()  # installs the broker from the environment on first use
    return dramatiq.get_broker()


def actor(*, queue_name: str, max_retries: int, time_limit_ms: int, **options: Any) -> Callable[[F], Any]:
    """``dramatiq.actor`` bound to the installed broker, recorded for :func:`install`."""

    def decorate(fn: F) -> Any:
        declared = dramatiq.actor(
            broker=current_broker(),
            queue_name=queue_name,
            max_retries=max_retries,
            time_limit=time_limit_ms,
            **options,
        )(fn)
        _actors.append(declared)
        return declared

    return decorate
