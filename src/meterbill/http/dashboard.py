"""GET /dashboard: the browser dashboard (contract: README section "dashboard"), built from
dashboard/ by Vite into static/dashboard/ and shipped in the package, so it is served with
no Node and no internet access. It talks only to /graphql (HTTP and graphql-transport-ws)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parent.parent / "static" / "dashboard"

# Everything from this origin, nothing inline, no framing; the key never leaves in a Referer.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def _index(_: Request) -> Response:
    index = ROOT / "index.html"
    if not index.is_file():
        return PlainTextResponse(
            "the dashboard is not built: run `npm ci && npm run build` in dashboard/", 404
        )
    # The page names the current hashed assets: always revalidated.
    return FileResponse(index, headers={**_HEADERS, "Cache-Control": "no-cache"})


class _Assets(StaticFiles):
    """Content-hashed files: a name never changes content, so browsers keep them."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = list(message.get("headers", []))
                headers.append((b"cache-control", b"public, max-age=31536000, immutable"))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_headers)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", _index, methods=["GET", "HEAD"]),
        Route("/dashboard/", _index, methods=["GET", "HEAD"]),
        Mount(
            "/dashboard/assets",
            app=_Assets(directory=ROOT / "assets", check_dir=False),
            name="dashboard-assets",
        ),
    ]
