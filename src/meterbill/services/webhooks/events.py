"""The event log as polling clients read it: one account's events, newest first."""

from __future__ import annotations

from meterbill.db.models import DomainEvent
from meterbill.services.pages import Page, paginate


async def get_event(account_id: str, event_id: str) -> DomainEvent | None:
    return await DomainEvent.get_or_none(id=event_id, account_id=account_id)


async def list_events(
    account_id: str, first: int, after: str | None, type_: str | None, object_id: str | None
) -> Page[DomainEvent]:
    qs = DomainEvent.filter(account_id=account_id)
    if type_ is not None:
        qs = qs.filter(type=type_)
    if object_id is not None:
        qs = qs.filter(object_id=object_id)
    return await paginate(qs, first, after)
