"""GET /openapi.json describes POST /v1/meter_events, and the description matches what the
endpoint takes and answers."""

from __future__ import annotations

from typing import Any

from meterbill.services.usage.bulk import FIELDS
from tests.api.test_bulk_ingest import ev, ndjson, post
from tests.api.usage_support import make_customer, make_meter


def _resolve(doc: dict[str, Any], node: Any) -> None:
    """Every $ref points at something in the document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            assert ref.startswith("#/"), ref
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target[part]
        for value in node.values():
            _resolve(doc, value)
    elif isinstance(node, list):
        for value in node:
            _resolve(doc, value)


async def test_openapi_describes_the_bulk_endpoint(client, tenant) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    _resolve(doc, doc)
    op = doc["paths"]["/v1/meter_events"]["post"]
    assert set(op["requestBody"]["content"]) == {"application/x-ndjson", "application/json"}
    assert {"200", "401", "403", "415", "429"} <= set(op["responses"])
    assert op["security"] == [{"bearer": []}]
    schemas = doc["components"]["schemas"]
    # The event's fields are the ones the endpoint reads.
    assert set(schemas["MeterEvent"]["properties"]) == FIELDS
    # A real answer has exactly the described result fields and a described status.
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    code, lines = await post(tenant, ndjson([ev(cus, "o-1", event_name=meter["eventName"])]))
    assert code == 200
    result = schemas["MeterEventResult"]
    assert set(lines[0]) == set(result["properties"]) == set(result["required"])
    assert lines[0]["status"] in result["properties"]["status"]["enum"]
    refused = await client.post("/v1/meter_events", content=b"{}")
    assert refused.status_code == 401
    body = refused.json()
    assert set(body) == set(schemas["Error"]["required"])
    item = schemas["Error"]["properties"]["errors"]["items"]
    assert set(body["errors"][0]) == set(item["required"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
