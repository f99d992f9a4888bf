"""tollgate-api: the job API, admin API, dashboard and workers."""

__all__: list[str] = []
