"""Errors of the catalog domain (providers, deployments, fallbacks).

::

    TollgateError
    ├── NotFound ─┬─ ProviderNotFound            404 provider-not-found
    │             ├─ DeploymentNotFound          404 deployment-not-found
    │             └─ FallbackNotFound            404 fallback-not-found
    └── EncryptionNotConfigured                  503 encryption-not-configured
"""

from __future__ import annotations

from tollgate_common.errors import NotFound, TollgateError


class ProviderNotFound(NotFound):
    slug, title = "provider-not-found", "Provider not found"


class DeploymentNotFound(NotFound):
    slug, title = "deployment-not-found", "Deployment not found"


class FallbackNotFound(NotFound):
    slug, title = "fallback-not-found", "No fallbacks set for this model"


class EncryptionNotConfigured(TollgateError):
    slug, title, status = "encryption-not-configured", "Provider key encryption is not configured", 503
