"""Shared plumbing of the Tollgate services.

Nothing here knows about jobs, credits or providers: settings readers, logging, the RFC 9457
problem mapping, the Postgres pool and driver-error mapping, migrations, health, metrics,
crypto helpers and the embedded servers used by ``make run`` and the tests.
"""

__all__: list[str] = []
