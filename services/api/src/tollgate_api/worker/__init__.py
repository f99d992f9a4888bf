"""Dramatiq workers of tollgate-api: thin actors that take ids and call idempotent service code.

``python -m tollgate_api.worker`` runs them (``dramatiq`` with processes/threads from settings).
"""
