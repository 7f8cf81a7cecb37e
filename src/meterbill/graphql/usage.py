"""Usage queries and mutations: record and cancel meter events, summaries, event listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from meterbill.graphql.context import Info
from meterbill.graphql.errors import UserError, mutate, query, user_error
from meterbill.graphql.types import usage as t
from meterbill.services import usage

_SUMMARIES_DOC = """Aggregated usage of one customer on one meter in [startTime, endTime).
startTime and endTime must be minute-aligned; hour-aligned with HOUR windows;
00:00 UTC-aligned with DAY windows (else BAD_USER_INPUT). Without a window: one row
per group for the whole range. With a window: one row per window per group, in
ascending startTime, windows without events included with aggregatedValue "0".
filter: {dimensionKey: value} equality on dimensions; groupBy: dimension keys."""


@strawberry.type
class UsageQuery:
    @strawberry.field(description=_SUMMARIES_DOC)
    async def meter_event_summaries(
        self,
        info: Info,
        meter_id: strawberry.ID,
        customer_id: strawberry.ID,
        start_time: datetime,
        end_time: datetime,
        value_grouping_window: t.GroupingWindow | None = None,
        filter: JSON | None = None,
        group_by: list[str] | None = None,
    ) -> list[t.MeterEventSummary]:
        rows = await query(
            usage.summaries(
                info.context.account_id,
                meter_id,
                customer_id,
                start_time,
                end_time,
                value_grouping_window.value if value_grouping_window else None,
                filter,
                group_by,
            )
        )
        return [t.MeterEventSummary.of(r) for r in rows]

    @strawberry.field(description="Most recent first; for debugging integrations.")
    async def meter_events(
        self,
        info: Info,
        meter_id: strawberry.ID,
        customer_id: strawberry.ID | None = None,
        first: int | None = 20,
    ) -> list[t.MeterEvent]:
        rows = await query(
            usage.list_events(
                info.context.account_id, meter_id, customer_id, 20 if first is None else first
            )
        )
        return [t.MeterEvent.of(r) for r in rows]


def _inputs(inputs: Sequence[t.MeterEventInput]) -> list[usage.EventInput]:
    return [
        usage.EventInput(
            event_name=i.event_name,
            payload=i.payload,
            identifier=i.identifier,
            timestamp=i.timestamp,
        )
        for i in inputs
    ]


def _one(r: usage.EventResult) -> t.RecordMeterEventPayload:
    return t.RecordMeterEventPayload(
        meter_event=t.MeterEvent.of(r.event) if r.event else None,
        duplicate=r.status == "DUPLICATE",
        user_errors=[user_error(e) for e in r.errors],
    )


def _many(results: list[usage.EventResult]) -> t.RecordMeterEventsPayload:
    return t.RecordMeterEventsPayload(
        accepted=usage.count(results, "ACCEPTED"),
        duplicates=usage.count(results, "DUPLICATE"),
        rejected=usage.count(results, "REJECTED"),
        results=[
            t.MeterEventResult(
                index=r.index,
                identifier=r.identifier,
                status=t.MeterEventResultStatus(r.status),
                user_errors=[user_error(e) for e in r.errors],
            )
            for r in results
        ],
    )


async def record_one(account_id: str, inp: usage.EventInput) -> t.RecordMeterEventPayload:
    """recordMeterEvent's resolver body; graphql/record_fast.py calls it too."""
    call = usage.record_event(account_id, inp)
    return await mutate(call, _one, lambda e: t.RecordMeterEventPayload(user_errors=e))  # type: ignore[no-any-return]


class _Many:
    """RecordMeterEventsPayload's values for graphql/record_fast.py: the per-event results
    are built only if the document selects them (most ingest clients read the counts)."""

    user_errors: list[UserError] = []

    def __init__(self, results: list[usage.EventResult]):
        self._results = results
        self.accepted = usage.count(results, "ACCEPTED")
        self.duplicates = usage.count(results, "DUPLICATE")
        self.rejected = usage.count(results, "REJECTED")

    @property
    def results(self) -> list[t.MeterEventResult]:
        return _many(self._results).results


async def record_many(account_id: str, inputs: list[usage.EventInput]) -> Any:
    """recordMeterEvents for graphql/record_fast.py: the resolver's answers, lazily."""
    call = usage.record_events(account_id, inputs)
    return await mutate(call, _Many, lambda e: t.RecordMeterEventsPayload(user_errors=e))


@strawberry.type
class UsageMutation:
    @strawberry.mutation
    async def record_meter_event(
        self, info: Info, input: t.MeterEventInput
    ) -> t.RecordMeterEventPayload:
        return await record_one(info.context.account_id, _inputs([input])[0])

    @strawberry.mutation(
        description="At most 1000 events; each is accepted, a duplicate, or rejected on its own."
    )
    async def record_meter_events(
        self, info: Info, input: list[t.MeterEventInput]
    ) -> t.RecordMeterEventsPayload:
        call = usage.record_events(info.context.account_id, _inputs(input))
        return await mutate(call, _many, lambda e: t.RecordMeterEventsPayload(user_errors=e))

    @strawberry.mutation(
        description="Only events received in the last 24 hours can be canceled (else TOO_LATE)."
    )
    async def cancel_meter_event(
        self, info: Info, input: t.CancelMeterEventInput
    ) -> t.CancelMeterEventPayload:
        call = usage.cancel_event(info.context.account_id, input.event_name, input.identifier)
        return await mutate(
            call,
            lambda r: t.CancelMeterEventPayload(meter_event=t.MeterEvent.of(r)),
            lambda e: t.CancelMeterEventPayload(user_errors=e),
        )
