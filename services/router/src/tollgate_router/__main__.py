"""``python -m tollgate_router`` / ``tollgate-router``: serve the router."""

from __future__ import annotations

from tollgate_common.serve import serve
from tollgate_router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings.from_env()
    serve(
        "tollgate_router.app:create_app_from_env",
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        service="tollgate-router",
        server="uvicorn",
    )


if __name__ == "__main__":
    main()
