"""The `meterbill` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator

from pydantic import ValidationError

from meterbill.config import Settings, get_settings, settings_problems

GRACEFUL_SHUTDOWN_SECONDS = 20


def _redact(url: str) -> str:
    """The URL without its password: startup output ends up in logs."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _settings() -> Settings:
    """The settings, or exit naming each invalid MB_ variable: a process that would start
    and then fail at its first charge is worse than one that does not start."""
    try:
        return get_settings()
    except ValidationError as exc:
        for problem in settings_problems(exc):
            print(f"meterbill: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from meterbill.db.setup import run_migrations
    from meterbill.logs import log_config

    settings = _settings()
    if args.workers > 1 and settings.embedded:
        # Each process would run its own embedded worker over its own in-memory queue and
        # its own writers on one SQLite file: not a supported shape.
        print(
            f"meterbill serve --workers {args.workers} needs MB_REDIS_URL (and a PostgreSQL "
            "MB_DATABASE_URL): without Redis each process would run its own in-process worker "
            "and queue. Run `meterbill serve` (one process) or set MB_REDIS_URL and start "
            "`meterbill worker` beside it.",
            file=sys.stderr,
        )
        return 2
    asyncio.run(run_migrations(settings))
    mode = (
        "embedded worker, in-memory queue" if settings.embedded else f"Redis {settings.redis_url}"
    )
    print(f"meterbill: database {_redact(settings.database_url)}; {_redact(mode)}")
    print(
        f"meterbill: GraphQL API on http://{args.host}:{args.port}/graphql"
        + (" (GraphiQL in a browser)" if settings.graphiql_enabled else "")
    )
    print(
        "meterbill: create an account and its admin key with: meterbill accounts create --name NAME"
    )
    sys.stdout.flush()
    with _metrics_dir(args.workers):
        uvicorn.run(
            "meterbill.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            access_log=False,
            # Requests in flight get this long after SIGTERM (docker-compose.yml's api
            # stop_grace_period is longer).
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            log_config=log_config(settings.log_level),
            loop="auto",
            http="auto",
        )
    return 0


@contextlib.contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """With several API processes, prometheus_client's multiprocess mode: the processes
    (started after this) keep their metrics in files under one folder, and a scrape of any
    of them sums all (services/metrics.py). meterbill creates the folder and removes it at
    exit; one the operator set is emptied first (values of an earlier run would add up)."""
    from meterbill.services.metrics import MULTIPROC_ENV

    if workers <= 1:
        yield
        return
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
        folder = given
    else:
        folder = tempfile.mkdtemp(prefix="meterbill-metrics-")
        os.environ[MULTIPROC_ENV] = folder
    print(f"meterbill: metrics of the {workers} processes summed through {folder}")
    sys.stdout.flush()
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def _worker(args: argparse.Namespace) -> int:
    from arq import run_worker

    from meterbill.worker.settings import WorkerSettings

    settings = _settings()
    if settings.embedded:
        print(
            "meterbill worker needs MB_REDIS_URL (e.g. redis://127.0.0.1:6379/0); without it "
            "`meterbill serve` runs the worker in-process.",
            file=sys.stderr,
        )
        return 2
    from meterbill.logs import configure

    configure(settings.log_level)
    if args.check:
        return _worker_check()
    run_worker(WorkerSettings, redis_settings=WorkerSettings.redis())  # type: ignore[arg-type]
    return 0


def _worker_check() -> int:
    """0 when this host's worker wrote its health key within the last interval (a
    container healthcheck), else 1."""
    from arq.worker import async_check_health

    from meterbill.worker.settings import QUEUE, WorkerSettings

    key = WorkerSettings.health_check_key
    return asyncio.run(async_check_health(WorkerSettings.redis(), key, QUEUE))


def _migrate(_: argparse.Namespace) -> int:
    from meterbill.db.setup import run_migrations

    asyncio.run(run_migrations(_settings()))
    print("meterbill: migrations applied")
    return 0


def _accounts_create(args: argparse.Namespace) -> int:
    from meterbill.billing.errors import DomainError
    from meterbill.db.setup import close_db, init_db, run_migrations
    from meterbill.services.accounts import create_account

    async def run() -> dict[str, str]:
        settings = _settings()
        await run_migrations(settings)
        await init_db(settings)
        try:
            account, secret = await create_account(args.name)
            return {"account_id": account.id, "secret_key": secret}
        finally:
            await close_db()

    try:
        print(json.dumps(asyncio.run(run())))
    except DomainError as exc:
        print(f"meterbill: {exc}", file=sys.stderr)
        return 2
    return 0


def _demo(_: argparse.Namespace) -> int:
    from meterbill.demo import run

    return run()


def _export_schema(_: argparse.Namespace) -> int:
    from meterbill.graphql.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meterbill", description="Usage-based billing engine.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the API (applies migrations first)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="API processes (needs MB_REDIS_URL)")
    s.set_defaults(func=_serve)
    w = sub.add_parser("worker", help="run the arq worker (needs MB_REDIS_URL)")
    w.add_argument(
        "--check", action="store_true", help="exit 0 if this host's worker is alive, else 1"
    )
    w.set_defaults(func=_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)
    acc = sub.add_parser("accounts", help="manage accounts")
    acc_sub = acc.add_subparsers(dest="action", required=True)
    c = acc_sub.add_parser("create", help="create an account and its first ADMIN key")
    c.add_argument("--name", required=True)
    c.set_defaults(func=_accounts_create)
    sub.add_parser(
        "demo", help="bill the Alpaca AI example month end to end on a temporary database"
    ).set_defaults(func=_demo)
    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(func=_export_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _settings()
    except ValueError as exc:  # not pydantic's (a MB_X_FILE that cannot be read, ...)
        print(f"meterbill: invalid settings: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return int(exc.code or 2)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
