"""The api → router data-plane client (aiohttp, created once in the app lifespan).

See :mod:`tollgate_api.routerclient.client`.
"""

from tollgate_api.routerclient.client import (
    RouterClient,
    RouterError,
    RouterMeta,
    RouterReply,
    RouterStream,
    StreamEvent,
)

__all__ = ["RouterClient", "RouterError", "RouterMeta", "RouterReply", "RouterStream", "StreamEvent"]
