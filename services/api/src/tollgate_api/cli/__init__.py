"""The ``tollgate`` command.

::

    tollgate dev                         the whole stack locally (what `make run` runs)
    tollgate migrate [--service S]       apply migrations to TOLLGATE_DATABASE_URL (S: api, router, all)
    tollgate seed-demo                   seed the demo into a running stack through its admin APIs
    tollgate seed-large [--fresh] ...    a large data set (1M jobs, 10M calls) in database tollgate_large
    tollgate keys new-encryption-key     print a new value for TOLLGATE_*_ENCRYPTION_KEYS
    tollgate keys rotate-provider-keys   re-encrypt every provider key under the router's primary key id
    tollgate keys rotate-api-keys        re-encrypt the api's stored secrets under its primary key id
    tollgate rollups verify|rebuild --since D --until D
                                         compare the margin rollups with raw calls / recompute them

Every setting comes from ``TOLLGATE_*`` environment variables or a ``.env`` file; see
docs/operations.md. Failures print one line and exit non-zero (2 for a usage or settings problem).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import warnings
from collections.abc import Sequence

import msgspec
import psycopg

from tollgate_api.devstack.seed import SeedError
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env, SettingsError
from tollgate_common.logging import configure_logging
from tollgate_common.settings import DatabaseSettings

_SERVICES = {"api": ("api",), "router": ("router",), "all": ("router", "api")}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tollgate", description="Tollgate command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "dev",
        help="run router, api and a worker locally (embedded Postgres/Redis unless URLs are set)",
    )
    migrate = commands.add_parser("migrate", help="apply pending migrations to TOLLGATE_DATABASE_URL")
    migrate.add_argument("--service", choices=sorted(_SERVICES), default="all")
    migrate.add_argument(
        "--create-database", action="store_true", help="create the database first when it does not exist"
    )
    large = commands.add_parser(
        "seed-large",
        help="generate a large data set (default 1M jobs, 10M calls, 1,000 teams) in database tollgate_large",
    )
    large.add_argument("--jobs", type=int, default=1_000_000, help="number of jobs (default 1,000,000)")
    large.add_argument("--calls-per-job", type=int, default=10, help="mean calls per job (default 10)")
    large.add_argument("--teams", type=int, default=1_000, help="teams, ~20 per organization (default 1,000)")
    large.add_argument("--months", type=int, default=6, help="months of history up to today (default 6)")
    large.add_argument("--seed", type=int, default=1, help="seed of the pseudo-random choices (default 1)")
    large.add_argument(
        "--database-url",
        help="default: database tollgate_large on TOLLGATE_DATABASE_URL's server, else the dev stack's "
        "embedded Postgres",
    )
    large.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    seed = commands.add_parser("seed-demo", help="seed the demo into a running stack (idempotent)")
    seed.add_argument("--api-url", help="default: http://<TOLLGATE_API_HOST>:<TOLLGATE_API_PORT>")
    seed.add_argument("--router-url", help="default: TOLLGATE_ROUTER_URL")
    rollups = commands.add_parser("rollups", help="check or repair the margin rollups (whole UTC months)")
    rollups.add_argument("action", choices=("verify", "rebuild"))
    rollups.add_argument("--since", required=True, type=_date_arg, help="YYYY-MM-DD (UTC), inclusive")
    rollups.add_argument("--until", required=True, type=_date_arg, help="YYYY-MM-DD (UTC), exclusive")
    keys = commands.add_parser("keys", help="key material helpers")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND")
    new_key = key_commands.add_parser(
        "new-encryption-key", help="print a new 'kid:base64key' entry for an *_ENCRYPTION_KEYS setting"
    )
    new_key.add_argument("--kid", default="k1", help="key id (rotate by putting a new id first)")
    rotate = key_commands.add_parser(
        "rotate-provider-keys",
        help="ask the running router to re-encrypt every provider key under its primary key id",
    )
    rotate.add_argument("--router-url", help="default: TOLLGATE_ROUTER_URL")
    key_commands.add_parser(
        "rotate-api-keys",
        help="re-encrypt team virtual keys and webhook secrets under TOLLGATE_API_ENCRYPTION_KEYS' first id",
    )
    return parser


def _rotate_provider_keys(env: Env, router_url: str | None) -> int:
    import httpx  # noqa: PLC0415 - keeps the other commands light

    from tollgate_api.settings import RouterClientSettings  # noqa: PLC0415

    router = RouterClientSettings.from_env(env)
    if not router.admin_token:
        print("tollgate keys: TOLLGATE_ROUTER_ADMIN_TOKEN is not set", file=sys.stderr)
        return 2
    url = (router_url or router.url).rstrip("/") + "/admin/providers/rotate-encryption"
    try:
        response = httpx.post(
            url, headers={"Authorization": f"Bearer {router.admin_token.get()}"}, timeout=60.0
        )
    except httpx.HTTPError as exc:
        print(f"tollgate keys: cannot reach the router at {url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(
            f"tollgate keys: the router answered {response.status_code}: {response.text[:300]}",
            file=sys.stderr,
        )
        return 1
    print(response.text)
    return 0


def _date_arg(value: str) -> datetime.datetime:
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


def _rollups(env: Env, action: str, since: datetime.datetime, until: datetime.datetime) -> int:
    from tollgate_api.reports.service import rebuild_rollups, verify_rollups  # noqa: PLC0415

    if since >= until:
        print("tollgate rollups: --since must be before --until", file=sys.stderr)
        return 2
    url = DatabaseSettings.from_env(env).url

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5) as conn:
            await conn.execute("SET jit = off")
            if action == "rebuild":
                result = await rebuild_rollups(conn, since=since, until=until)
                print(msgspec.json.encode(result).decode())
                return 0
            drift = await verify_rollups(conn, since, until)
        for row in drift:
            print(msgspec.json.encode(row).decode())
        print(f"rollups: {len(drift)} row(s) differ from a recomputation from raw calls", file=sys.stderr)
        return 1 if drift else 0

    return asyncio.run(run())


def _rotate_api_keys(env: Env) -> int:
    from tollgate_api.encryption.service import rotate_encryption  # noqa: PLC0415

    setting = env.get_secret("API_ENCRYPTION_KEYS")
    if not setting.get():
        print("tollgate keys: TOLLGATE_API_ENCRYPTION_KEYS is not set", file=sys.stderr)
        return 2
    try:
        keyring = Keyring.from_setting(setting.get())
    except ValueError as exc:
        print(f"tollgate keys: TOLLGATE_API_ENCRYPTION_KEYS is invalid: {exc}", file=sys.stderr)
        return 2
    url = DatabaseSettings.from_env(env).url

    async def rotate() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5) as conn:
            result = await rotate_encryption(conn, keyring)
        return msgspec.json.encode(result).decode()

    print(asyncio.run(rotate()))
    return 0


def _migrate(env: Env, service: str, *, create: bool) -> int:
    from tollgate_api.devstack import database  # noqa: PLC0415 - keeps `tollgate keys` light

    url = DatabaseSettings.from_env(env).url
    if create and database.ensure_database(url):
        print(f"created database {database.database_name(url)}")
    applied = database.migrate(url, _SERVICES[service])
    for name, ids in applied.items():
        print(f"{name}: {len(ids)} migration(s) applied" + (f" ({', '.join(ids)})" if ids else ""))
    if "api" in _SERVICES[service]:
        created = asyncio.run(_ensure_partitions(url))
        print(
            f"api: {len(created)} llm_calls partition(s) created"
            + (f" ({', '.join(created)})" if created else "")
        )
    return 0


async def _ensure_partitions(url: str) -> list[str]:
    from tollgate_api.usage.partitions import ensure_llm_call_partitions  # noqa: PLC0415

    async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5) as conn:
        return await ensure_llm_call_partitions(conn)


def _seed(env: Env, api_url: str | None, router_url: str | None) -> int:
    from tollgate_api.devstack import seed  # noqa: PLC0415 - keeps `tollgate keys` light
    from tollgate_api.devstack.settings import DevSettings  # noqa: PLC0415
    from tollgate_api.devstack.state import SECRET_NAMES  # noqa: PLC0415
    from tollgate_common.env import PREFIX, read_dotenv  # noqa: PLC0415

    dev = DevSettings.from_env(env)
    stored = read_dotenv(dev.secrets_file)
    secrets: dict[str, str] = {}
    for name in SECRET_NAMES:
        value = env.raw(name) or stored.get(PREFIX + name)
        if not value:
            print(
                f"tollgate seed-demo: {PREFIX}{name} is not set (nor in {dev.secrets_file})",
                file=sys.stderr,
            )
            return 2
        secrets[PREFIX + name] = value
    target = seed.SeedTarget.from_secrets(
        api_url or dev.api_url, router_url or env.get_str("ROUTER_URL", dev.router_url), secrets
    )
    demo = seed.seed_demo(target, demo_file=dev.demo_file)
    print(f"organization {demo.organization_id}")
    print(f"team         {demo.team_id}")
    print(f"team key     {demo.team_key}")
    print(f"model group  {demo.model_group}")
    return 0


def _seed_large(env: Env, args: argparse.Namespace) -> int:
    import time  # noqa: PLC0415 - keeps the other commands light

    from tollgate_api import seeding  # noqa: PLC0415

    try:
        params = seeding.SeedParams(
            jobs=args.jobs,
            calls_per_job=args.calls_per_job,
            teams=args.teams,
            months=args.months,
            seed=args.seed,
        )
    except seeding.SeedParamsError as exc:
        print(f"tollgate seed-large: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {line}", flush=True)

    try:
        with seeding.large_database_url(env, args.database_url) as url:
            report = asyncio.run(seeding.seed_large(url, params, fresh=args.fresh, say=say))
    except (seeding.SeedConflict, seeding.LargeDatabaseMissing) as exc:
        print(f"tollgate seed-large: {exc}", file=sys.stderr)
        return 2
    print(f"seed-large: {report.seconds:.1f} s, {len(report.steps_run)} step(s) run")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # platformdirs (pulled in by the embedded servers) warns about XDG_RUNTIME_DIR on servers.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    configure_logging(level="WARNING")
    try:
        env = Env()
        if args.command == "dev":
            from tollgate_api.devstack.stack import run_dev  # noqa: PLC0415

            return run_dev(env)
        if args.command == "migrate":
            return _migrate(env, args.service, create=args.create_database)
        if args.command == "seed-large":
            return _seed_large(env, args)
        if args.command == "seed-demo":
            return _seed(env, args.api_url, args.router_url)
        if args.command == "keys" and args.keys_command == "rotate-provider-keys":
            return _rotate_provider_keys(env, args.router_url)
        if args.command == "rollups":
            return _rollups(env, args.action, args.since, args.until)
        if args.command == "keys" and args.keys_command == "rotate-api-keys":
            return _rotate_api_keys(env)
        if args.command == "keys":
            print(Keyring.new_key_setting(args.kid))
            return 0
    except SettingsError as exc:
        print(f"tollgate {args.command}: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        print(f"tollgate {args.command}: cannot reach the database: {first}", file=sys.stderr)
        return 1
    except SeedError as exc:
        print(f"tollgate {args.command}: {exc}", file=sys.stderr)
        return 1
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
