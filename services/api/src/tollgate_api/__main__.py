"""``python -m tollgate_api`` / ``tollgate-api``: serve the api."""

from __future__ import annotations

from tollgate_api.settings import ApiSettings
from tollgate_common.serve import serve


def main() -> None:
    settings = ApiSettings.from_env()
    serve(
        "tollgate_api.app:create_app_from_env",
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        service="tollgate-api",
    )


if __name__ == "__main__":
    main()
