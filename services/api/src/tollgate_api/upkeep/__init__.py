"""Scheduled upkeep of tollgate-api: expire jobs, low-credit alerts, credit-grant expiry, retention
purge, spend reconciliation, llm_calls partitions; and the operators' view of the worker queues.

``actors.py`` (thin Dramatiq actors) → ``service.py`` (idempotent upkeep) → ``repository.py`` (SQL).
The schedule that sends them lives in :mod:`tollgate_api.worker.schedule`.
"""
