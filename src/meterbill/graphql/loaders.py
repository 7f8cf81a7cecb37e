"""Request-scoped dataloaders, always filtered by the caller's account."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from meterbill.graphql.context import Context


def by_id(ctx: Context, model: Any) -> DataLoader[str, Any]:
    key = f"id:{model.__name__}"
    if key not in ctx.loaders:
        account_id = ctx.account_id

        async def load(ids: Sequence[str]) -> list[Any]:
            rows = await model.filter(id__in=list(set(ids)), account_id=account_id)
            found = {r.id: r for r in rows}
            return [found.get(i) for i in ids]

        ctx.loaders[key] = DataLoader(load_fn=load)
    return ctx.loaders[key]


def many_by(
    ctx: Context, name: str, fetch: Callable[[list[str]], Any], key_of: Callable[[Any], str]
) -> DataLoader[str, list[Any]]:
    """Children grouped by a parent id (tiers of prices, items of subscriptions...)."""
    key = f"many:{name}"
    if key not in ctx.loaders:

        async def load(ids: Sequence[str]) -> list[list[Any]]:
            groups: dict[str, list[Any]] = defaultdict(list)
            for row in await fetch(list(set(ids))):
                groups[key_of(row)].append(row)
            return [groups.get(i, []) for i in ids]

        ctx.loaders[key] = DataLoader(load_fn=load)
    return ctx.loaders[key]
