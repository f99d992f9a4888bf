"""Webhook problems (subclasses of the api's tree in ``tollgate_api.errors``)::

BadRequest
└── InvalidWebhookUrl          400  invalid-webhook-url    scheme, host or length not allowed
NotFound
└── WebhookNotFound            404  webhook-not-found      another team's endpoint is "not found" too
Conflict
└── WebhookLimitReached        409  webhook-limit-reached  settings.webhooks.max_endpoints_per_team
"""

from __future__ import annotations

from tollgate_api.errors import BadRequest, Conflict, NotFound


class InvalidWebhookUrl(BadRequest):
    slug, title, status = "invalid-webhook-url", "The webhook URL is not allowed", 400


class WebhookNotFound(NotFound):
    slug, title, status = "webhook-not-found", "Webhook endpoint not found", 404


class WebhookLimitReached(Conflict):
    slug, title, status = "webhook-limit-reached", "The team has its maximum number of webhook endpoints", 409
