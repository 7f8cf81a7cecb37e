"""Files that ship inside the meterbill package (package-data under src/meterbill/static/),
served under /static/FOLDER by meterbill itself: pages such as GraphiQL need no internet
access. A page's assets go in a folder of their own (static/graphiql/), mounted on its own, so
one page's serving rules (headers, caching) never apply to another's files."""

from __future__ import annotations

from importlib import resources

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

PREFIX = "/static"


def static_url(path: str, root_path: str = "") -> str:
    """The address of a shipped file, e.g. static_url("graphiql/graphiql.min.js")."""
    return f"{root_path}{PREFIX}/{path.lstrip('/')}"


def read_text(path: str) -> str:
    """A shipped text file (a page's HTML template), read from the installed package."""
    return (resources.files("meterbill") / "static" / path).read_text(encoding="utf-8")


def static_mount(folder: str) -> Mount:
    """/static/FOLDER serving src/meterbill/static/FOLDER/."""
    # packages=: found through the import system, so an editable install serves the
    # worktree's files and a wheel its own copy.
    files = StaticFiles(packages=[("meterbill", f"static/{folder}")])
    return Mount(f"{PREFIX}/{folder}", app=files, name=f"static-{folder}")
