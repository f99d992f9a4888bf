"""tollgate-router: the internal OpenAI-compatible routing gateway."""

__all__: list[str] = []
