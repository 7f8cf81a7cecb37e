"""POST /v1/meter_events holds at most MB_BULK_MAX_EVENTS events: those before the limit are
stored and reported as usual, the line at the limit's index says that it and the events after
it were not taken, and nothing after it is read or stored."""

from __future__ import annotations

from typing import Any

import orjson

from meterbill.db.models import MeterEvent
from tests.api.test_bulk_ingest import NDJSON, URL, ev, ndjson, statuses
from tests.api.usage_support import make_customer, make_meter
from tests.apps import new_key, running
from tests.conftest import Tenant


async def _post(client: Any, secret: str, body: bytes, ctype: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": ctype}
    resp = await client.post(URL, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return [orjson.loads(line) for line in resp.content.splitlines()]


async def _tenant_with_meter(client: Any) -> tuple[str, str, str]:
    """A new account and key with the bulk tests' meter and one customer."""
    account, secret = await new_key()
    tenant = Tenant(client, account, secret)
    await make_meter(tenant)
    return account, secret, await make_customer(tenant)


async def test_events_past_the_limit_are_not_taken(deployment):
    async with running(deployment, bulk_max_events=5) as client:
        account, secret, cus = await _tenant_with_meter(client)

        # Exactly the limit: all taken, no error line.
        lines = await _post(client, secret, ndjson([ev(cus, f"a{i}") for i in range(5)]), NDJSON)
        assert statuses(lines) == ["ACCEPTED"] * 5

        # Past it, in NDJSON (one bad event among them still counts as one) and in an array.
        events: list[Any] = [ev(cus, f"b{i}") for i in range(8)]
        nd = ndjson(events[:2]) + b"not json\n" + ndjson(events[3:])
        array = orjson.dumps([ev(cus, f"c{i}") for i in range(8)])
        for body, ctype in ((nd, NDJSON), (array, "application/json")):
            lines = await _post(client, secret, body, ctype)
            assert [r["index"] for r in lines] == [0, 1, 2, 3, 4, 5]
            assert statuses(lines)[5] == "REJECTED"
            (err,) = lines[5]["errors"]
            assert "at most 5 events (MB_BULK_MAX_EVENTS)" in err["message"]
            assert "nothing after this point was read" in err["message"]
        stored = await MeterEvent.filter(account_id=account).values_list("identifier", flat=True)
        expected = {f"a{i}" for i in range(5)} | {"b0", "b1", "b3", "b4"}
        assert set(stored) == expected | {f"c{i}" for i in range(5)}


async def test_the_limit_counts_across_chunks(deployment):
    # 2500 events per INSERT (http/bulk.CHUNK): the first chunk is stored before the limit
    # is reached in the second, and both chunks' events before the limit count.
    async with running(deployment, bulk_max_events=2600) as client:
        account, secret, cus = await _tenant_with_meter(client)
        lines = await _post(client, secret, ndjson([ev(cus, f"e{i}") for i in range(2700)]), NDJSON)
        assert statuses(lines) == ["ACCEPTED"] * 2600 + ["REJECTED"]
        assert lines[-1]["index"] == 2600
        assert await MeterEvent.filter(account_id=account).count() == 2600
