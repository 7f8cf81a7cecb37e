"""schema.graphql is what the code exports, and stays a compatible superset of the contract."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from meterbill.graphql.schema import export_sdl

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "contract" / "core.graphql"


def test_schema_file_equals_export() -> None:
    assert (ROOT / "schema.graphql").read_text() == export_sdl(), (
        "run: meterbill export-schema > schema.graphql"
    )


def test_no_breaking_change_for_what_the_schema_has() -> None:
    if not CONTRACT.exists():
        # The contract lives beside the checkout (../shared), as in CI; a bare clone has none.
        msg = f"the public contract is not at {CONTRACT}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    ours = build_schema(export_sdl())
    changes = find_breaking_changes(build_schema(CONTRACT.read_text()), ours)
    # A type or root field not built yet is reported as removed; everything we do define
    # must match the contract exactly.
    built = set(ours.type_map)
    roots = {f"Query.{n}" for n in ours.query_type.fields} | {
        f"Mutation.{n}" for n in (ours.mutation_type.fields if ours.mutation_type else {})
    }
    relevant = [
        c.description
        for c in changes
        if not (c.type.name == "TYPE_REMOVED" and c.description.split()[0] not in built)
        and not (
            c.type.name == "FIELD_REMOVED"
            and c.description.split()[1] not in roots
            and c.description.split()[1].split(".")[0] in ("Query", "Mutation")
        )
    ]
    assert relevant == []
