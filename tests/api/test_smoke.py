async def test_health(client):
    assert (await client.get("/healthz")).status_code == 200
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"database": "ok", "redis": "ok"}


async def test_meter_roundtrip(tenant):
    d = await tenant.data(
        'mutation { createMeter(input:{displayName:"T", eventName:"t", '
        "aggregation: SUM}) { meter { id } userErrors { code } } }"
    )
    mid = d["createMeter"]["meter"]["id"]
    assert mid.startswith("mtr_")
    got = await tenant.data("query($id: ID!) { meter(id: $id) { eventName } }", {"id": mid})
    assert got["meter"]["eventName"] == "t"
