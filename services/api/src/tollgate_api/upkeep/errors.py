"""Upkeep problems (subclasses of the api's tree in ``tollgate_api.errors``)::

NotFound
├── ReconciliationRunNotFound  404  reconciliation-run-not-found
└── DeadLetterNotFound         404  dead-letter-not-found   (already requeued, expired or never there)
"""

from __future__ import annotations

from tollgate_api.errors import NotFound


class ReconciliationRunNotFound(NotFound):
    slug, title, status = "reconciliation-run-not-found", "Reconciliation run not found", 404


class DeadLetterNotFound(NotFound):
    slug, title, status = "dead-letter-not-found", "Dead-lettered message not found", 404
