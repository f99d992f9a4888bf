"""Errors of the virtual-key domain (admin side; the data-plane ones live in tollgate_router.errors).

::

    TollgateError
    └── NotFound ── KeyNotFound      404 key-not-found
"""

from __future__ import annotations

from tollgate_common.errors import NotFound


class KeyNotFound(NotFound):
    slug, title = "key-not-found", "Virtual key not found"
