"""constraints.txt (what CI and the Dockerfile install from) pins every dependency that
pyproject.toml declares, at a version its range accepts, and says which pins guard the
private APIs the code touches."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TEXT = (ROOT / "constraints.txt").read_text()


def _pins() -> dict[str, str]:
    pins = {}
    for line in TEXT.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def _declared() -> list[Requirement]:
    return [
        Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]
    ]


def test_every_declared_dependency_is_pinned_inside_its_range() -> None:
    pins = _pins()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (str(req), pins[name])


def test_packages_imported_directly_are_declared() -> None:
    declared = {canonicalize_name(r.name) for r in _declared()}
    assert {"graphql-core", "strawberry-graphql", "tortoise-orm", "arq", "platformdirs"} <= declared


def test_private_api_pins_say_why() -> None:
    pins = _pins()
    marked = re.findall(r"# PRIVATE API: .*\n([A-Za-z0-9_.-]+)==", TEXT)
    names = {canonicalize_name(n) for n in marked}
    assert {"strawberry-graphql", "graphql-core", "tortoise-orm", "arq", "asyncpg"} <= names
    assert names <= set(pins)
