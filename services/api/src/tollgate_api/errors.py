"""The api's error tree. Every error a client sees of tollgate-api is one of these (or a framework
error translated by ``tollgate_common.problems``), rendered as RFC 9457 problem details.

::

    TollgateError (tollgate_common.errors)         status  type
    ├── BadRequest                                 400     invalid-request
    │   ├── InvalidPlan                            400     invalid-plan
    │   └── AIRequestRejected                      400     ai-request-rejected
    ├── Unauthorized                               401     unauthorized
    │   └── InvalidCredentials                     401     invalid-credentials   (operator login)
    ├── InsufficientCredits                        402     insufficient-credits
    ├── CreditLimitReached                         402     credit-limit-reached
    ├── AIBudgetExceeded                           402     usage-limit-reached
    ├── Forbidden                                  403     forbidden
    │   ├── TeamNotActive                          403     team-not-active
    │   └── RoleRequired                           403     role-required
    ├── NotFound                                   404     not-found
    │   ├── TeamNotFound                           404     team-not-found
    │   ├── UnknownModelGroup                      404     unknown-model-group  (same for missing and
    │   │                                                                        not granted: reveals nothing)
    │   └── JobNotFound                            404     job-not-found
    ├── Conflict                                   409     conflict
    │   ├── JobNotOpen                             409     job-not-open
    │   ├── JobAlreadyFinished                     409     job-already-finished
    │   ├── JobCallLimitReached                    409     job-call-limit-reached
    │   └── IdempotencyConflict                    409     idempotency-conflict
    ├── RateLimited                                429     rate-limited          (login throttle, Retry-After)
    │   └── AIRateLimited                          429     rate-limited
    ├── UpstreamFailed                             502     ai-service-failed
    ├── Unavailable                                503     unavailable
    │   ├── RouterUnavailable                      503     router-unavailable
    │   └── UpstreamUnavailable                    503     ai-service-unavailable
    └── UpstreamTimeout                            504     ai-service-timeout

Messages never name a router model, provider, token count or cost.
"""

from __future__ import annotations

from tollgate_common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    TollgateError,
    Unauthorized,
    Unavailable,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidCredentials",
    "InvalidPlan",
    "JobNotFound",
    "JobNotOpen",
    "NotFound",
    "RateLimited",
    "RoleRequired",
    "RouterUnavailable",
    "TeamNotActive",
    "TeamNotFound",
    "TollgateError",
    "Unauthorized",
    "Unavailable",
    "UnknownModelGroup",
]


class InvalidPlan(BadRequest):
    slug, title, status = "invalid-plan", "Invalid pricing plan", 400


class InvalidCredentials(Unauthorized):
    slug, title, status = "invalid-credentials", "Invalid email or password", 401


class InsufficientCredits(TollgateError):
    slug, title, status = "insufficient-credits", "Not enough credits", 402


class TeamNotActive(Forbidden):
    slug, title, status = "team-not-active", "The team is not active", 403


class RoleRequired(Forbidden):
    slug, title, status = "role-required", "Your role does not allow this", 403


class TeamNotFound(NotFound):
    slug, title, status = "team-not-found", "Team not found", 404


class UnknownModelGroup(NotFound):
    slug, title, status = "unknown-model-group", "Unknown model group", 404

    def __init__(self) -> None:
        super().__init__("unknown model group")


class JobNotFound(NotFound):
    slug, title, status = "job-not-found", "Job not found", 404


class JobNotOpen(Conflict):
    slug, title, status = "job-not-open", "The job is not open", 409


class IdempotencyConflict(Conflict):
    slug, title, status = "idempotency-conflict", "Idempotency key reused with different parameters", 409


class RouterUnavailable(Unavailable):
    slug, title, status = "router-unavailable", "The routing service is unavailable", 503


# ---------------------------------------------------------------- job errors (jobs helper's section)
#
#   TollgateError
#   ├── CreditLimitReached        402  credit-limit-reached    a consumption job used its hold
#   ├── AIBudgetExceeded          402  usage-limit-reached     the router's budget for the team
#   ├── UpstreamFailed            502  ai-service-failed       the router/provider failed
#   ├── UpstreamTimeout           504  ai-service-timeout
#   ├── BadRequest
#   │   └── AIRequestRejected     400  ai-request-rejected     the provider refused the request
#   ├── Conflict
#   │   ├── JobAlreadyFinished    409  job-already-finished    a second, different outcome
#   │   └── JobCallLimitReached   409  job-call-limit-reached  settings.jobs.max_calls_per_job
#   ├── RateLimited
#   │   └── AIRateLimited         429  rate-limited            (Retry-After from the router)
#   └── Unavailable
#       └── UpstreamUnavailable   503  ai-service-unavailable  router unreachable or misconfigured
#
# (JobNotFound 404 and JobNotOpen 409 are above.) None of their messages names a model or provider:
# tollgate_api.calls.service.client_error builds them from the router's failure kind only.


class JobAlreadyFinished(Conflict):
    """A second, different outcome was requested for a finished job (the first one stands)."""

    slug, title, status = "job-already-finished", "The job already finished with another outcome", 409


class JobCallLimitReached(Conflict):
    slug, title, status = "job-call-limit-reached", "The job has reached its limit of calls", 409


class CreditLimitReached(TollgateError):
    """The job's consumption already reached its credit hold (``max_credits``); no further calls."""

    slug, title, status = "credit-limit-reached", "The job has used the credits it holds", 402


class AIRateLimited(RateLimited):
    slug, title, status = "rate-limited", "Too many requests", 429


class AIBudgetExceeded(TollgateError):
    slug, title, status = "usage-limit-reached", "The team's usage limit is reached", 402


class AIRequestRejected(BadRequest):
    """The AI service refused the request as malformed (e.g. too long); says nothing about which."""

    slug, title, status = "ai-request-rejected", "The AI service rejected the request", 400


class UpstreamFailed(TollgateError):
    slug, title, status = "ai-service-failed", "The AI service failed", 502


class UpstreamTimeout(TollgateError):
    slug, title, status = "ai-service-timeout", "The AI service did not answer in time", 504


class UpstreamUnavailable(Unavailable):
    slug, title, status = "ai-service-unavailable", "The AI service is unavailable", 503


# ---------------------------------------------------------------- report errors (reports helper's section)
#
#   BadRequest
#   └── InvalidReportQuery        400  invalid-report-query    a bad tz, range, grouping, sort or filter


class InvalidReportQuery(BadRequest):
    slug, title, status = "invalid-report-query", "Invalid report parameters", 400
