"""The `meterbill` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys

from pydantic import ValidationError

from meterbill.config import Settings, get_settings, settings_problems


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
    uvicorn.run(
        "meterbill.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=False,
        log_config=log_config(settings.log_level),
        loop="auto",
        http="auto",
    )
    return 0


def _worker(_: argparse.Namespace) -> int:
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
    run_worker(WorkerSettings, redis_settings=WorkerSettings.redis())  # type: ignore[arg-type]
    return 0


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
    sub.add_parser("worker", help="run the arq worker (needs MB_REDIS_URL)").set_defaults(
        func=_worker
    )
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
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
