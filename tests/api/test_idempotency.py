"""Idempotency-Key on mutations (graphql/idempotency.py + services/idempotency.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from meterbill.db.models import Customer, IdempotencyKey, Meter, Product
from meterbill.services import idempotency as idem
from meterbill.services.now import utcnow

CREATE_CUSTOMER = (
    "mutation($name: String) { createCustomer(input: {name: $name}) "
    "{ customer { id name } userErrors { code } } }"
)
CREATE_PRODUCT = (
    "mutation($name: String!) { createProduct(input: {name: $name}) "
    "{ product { id name } userErrors { code } } }"
)
CREATE_METER = (
    "mutation($name: String!) { createMeter(input: {displayName: $name, eventName: $name, "
    "aggregation: SUM}) { meter { id eventName } userErrors { field code message } } }"
)
MUTATIONS = [
    ("createCustomer", CREATE_CUSTOMER, "customer", Customer),
    ("createProduct", CREATE_PRODUCT, "product", Product),
    ("createMeter", CREATE_METER, "meter", Meter),
]


async def _post(tenant, query, variables, key=None, secret=None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {secret or tenant.secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    r = await tenant.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r


def _code(body: dict) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


@pytest.mark.parametrize(("field", "doc", "node", "model"), MUTATIONS)
async def test_same_key_same_request_replays_without_running_again(tenant, field, doc, node, model):
    first = await _post(tenant, doc, {"name": "k1"}, key="key-1")
    second = await _post(tenant, doc, {"name": "k1"}, key="key-1")
    assert first.json() == second.json()
    assert first.json()["data"][field][node]["id"]
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert await model.filter(account_id=tenant.account_id).count() == 1


@pytest.mark.parametrize(("field", "doc", "node", "model"), MUTATIONS)
async def test_same_key_other_request_is_refused(tenant, field, doc, node, model):
    await _post(tenant, doc, {"name": "a"}, key="key-2")
    body = (await _post(tenant, doc, {"name": "b"}, key="key-2")).json()
    assert _code(body) == "IDEMPOTENCY_KEY_REUSED"
    assert body["data"] is None
    other_doc = MUTATIONS[(MUTATIONS.index((field, doc, node, model)) + 1) % 3][1]
    body = (await _post(tenant, other_doc, {"name": "a"}, key="key-2")).json()
    assert _code(body) == "IDEMPOTENCY_KEY_REUSED"
    assert await model.filter(account_id=tenant.account_id).count() == 1


async def test_without_a_key_every_request_runs(tenant):
    for _ in range(2):
        await _post(tenant, CREATE_PRODUCT, {"name": "p"})
    assert await Product.filter(account_id=tenant.account_id).count() == 2


async def test_keys_are_per_account(tenant, other_tenant):
    a = (await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="shared")).json()
    b = (await _post(other_tenant, CREATE_PRODUCT, {"name": "p"}, key="shared")).json()
    assert (
        a["data"]["createProduct"]["product"]["id"] != b["data"]["createProduct"]["product"]["id"]
    )
    assert await Product.filter(account_id=other_tenant.account_id).count() == 1


async def test_user_errors_are_an_outcome_and_are_replayed(tenant):
    await _post(tenant, CREATE_METER, {"name": "dup"})
    first = (await _post(tenant, CREATE_METER, {"name": "dup"}, key="k-dup")).json()
    assert first["data"]["createMeter"]["userErrors"][0]["code"] == "ALREADY_EXISTS"
    await Meter.filter(account_id=tenant.account_id).delete()  # would now succeed...
    again = await _post(tenant, CREATE_METER, {"name": "dup"}, key="k-dup")
    assert again.json() == first  # ...but the stored outcome is what a retry gets
    assert again.headers["idempotent-replayed"] == "true"
    assert await Meter.filter(account_id=tenant.account_id).count() == 0


async def test_a_key_in_flight_is_in_use(tenant):
    fp = idem.fingerprint(CREATE_PRODUCT, {"name": "x"}, None)
    claim = await idem.claim(tenant.account_id, "busy", fp)
    assert claim.run
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "x"}, key="busy")).json()
    assert _code(body) == "IDEMPOTENCY_KEY_IN_USE"
    assert await Product.filter(account_id=tenant.account_id).count() == 0
    # The first request finishes: from then on the stored response is replayed.
    await idem.complete(claim.row_id, {"data": {"createProduct": {"stored": True}}, "errors": []})
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "x"}, key="busy")).json()
    assert body["data"] == {"createProduct": {"stored": True}}


async def test_an_abandoned_key_is_taken_over_after_the_lease(tenant):
    fp = idem.fingerprint(CREATE_PRODUCT, {"name": "x"}, None)
    long_ago = utcnow() - idem.LEASE - timedelta(seconds=1)
    assert (await idem.claim(tenant.account_id, "orphan", fp, now=long_ago)).run
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "x"}, key="orphan")).json()
    assert body["data"]["createProduct"]["product"]["id"]
    row = await IdempotencyKey.get(account_id=tenant.account_id, key="orphan")
    assert row.status == idem.DONE


async def test_concurrent_requests_with_one_key_run_once(tenant):
    n = 8
    responses = await asyncio.gather(
        *[_post(tenant, CREATE_PRODUCT, {"name": "race"}, key="race") for _ in range(n)]
    )
    bodies = [r.json() for r in responses]
    ids = {b["data"]["createProduct"]["product"]["id"] for b in bodies if b.get("data")}
    in_use = [b for b in bodies if _code(b) == "IDEMPOTENCY_KEY_IN_USE"]
    assert len(ids) == 1
    assert len(in_use) + sum(1 for b in bodies if b.get("data")) == n
    assert await Product.filter(account_id=tenant.account_id).count() == 1


async def test_an_internal_failure_is_kept_and_replayed(tenant, monkeypatch):
    # Stripe's rule: once the request started executing, its response is the key's,
    # whatever it was; a retry with the key gets it again and runs nothing.
    from meterbill.services import catalog

    real = catalog.create_product

    async def broken(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("connection reset")

    monkeypatch.setattr(catalog, "create_product", broken)
    first = await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="kept")
    assert _code(first.json()) == "INTERNAL"
    monkeypatch.setattr(catalog, "create_product", real)
    again = await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="kept")
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await Product.filter(account_id=tenant.account_id).count() == 0


async def test_a_failing_second_root_field_never_repeats_the_first(tenant, monkeypatch):
    from meterbill.services import catalog

    async def broken(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "create_product", broken)
    doc = (
        'mutation { c: createCustomer(input: {name: "once"}) { customer { id } } '
        'p: createProduct(input: {name: "p"}) { product { id } } }'
    )
    bodies = [(await _post(tenant, doc, {}, key="two-roots")).json() for _ in range(3)]
    # (Both payloads are non-null: the failure nulls the whole data, the customer exists.)
    assert _code(bodies[0]) == "INTERNAL"
    assert bodies[1] == bodies[0] and bodies[2] == bodies[0]
    assert await Customer.filter(account_id=tenant.account_id).count() == 1


async def test_refused_variables_leave_the_key_free(tenant):
    # Variables that do not coerce are refused before execution: nothing ran.
    body = (await _post(tenant, CREATE_PRODUCT, {"name": 5}, key="free")).json()
    assert _code(body) == "BAD_USER_INPUT"
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="free")).json()
    assert body["data"]["createProduct"]["product"]["id"]


async def test_a_replayed_api_key_has_no_secret_and_none_is_stored(tenant):
    doc = (
        'mutation { k: createApiKey(input: {name: "ci", scopes: [READ]}) '
        "{ apiKey { id } s: secret } }"
    )
    first = (await _post(tenant, doc, {}, key="mint")).json()
    secret = first["data"]["k"]["s"]
    assert secret.startswith("mb_sk_")
    rows = await IdempotencyKey.filter(account_id=tenant.account_id).values_list(
        "response", flat=True
    )
    assert rows and all(secret not in (r or "") for r in rows)
    replay = await _post(tenant, doc, {}, key="mint")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["data"]["k"] == {"apiKey": first["data"]["k"]["apiKey"], "s": None}
    # Still one key: the replay minted nothing.
    keys = (await tenant.data("{ apiKeys { id } }"))["apiKeys"]
    assert len(keys) == 2


async def test_a_refused_request_does_not_take_the_key(tenant):
    d = await tenant.data(
        'mutation { createApiKey(input: {name: "r", scopes: [READ]}) { secret } }'
    )
    body = (
        await _post(
            tenant, CREATE_PRODUCT, {"name": "p"}, key="k", secret=d["createApiKey"]["secret"]
        )
    ).json()
    assert _code(body) == "FORBIDDEN"
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="k")).json()
    assert body["data"]["createProduct"]["product"]["id"]


async def test_invalid_keys_and_queries(tenant):
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="x" * 256)).json()
    assert _code(body) == "BAD_USER_INPUT"
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "p"}, key="  ")).json()
    assert _code(body) == "BAD_USER_INPUT"
    assert await Product.filter(account_id=tenant.account_id).count() == 0
    # Queries are naturally idempotent: a key on them is ignored, not stored.
    await _post(tenant, "{ apiKeys { id } }", {}, key="q")
    assert not await IdempotencyKey.filter(account_id=tenant.account_id).exists()


async def test_expired_keys_run_again_and_are_purged(tenant):
    fp = idem.fingerprint(CREATE_PRODUCT, {"name": "old"}, None)
    then = utcnow() - idem.TTL - timedelta(minutes=1)
    old = await idem.claim(tenant.account_id, "old", fp, now=then)
    await idem.complete(old.row_id, {"data": {"createProduct": {"stale": True}}, "errors": []})
    body = (await _post(tenant, CREATE_PRODUCT, {"name": "old"}, key="old")).json()
    assert body["data"]["createProduct"]["product"]["id"]  # ran again, not the stale replay

    stale = await idem.claim(tenant.account_id, "stale", fp, now=then)
    await idem.complete(stale.row_id, {"data": {}, "errors": []})
    purged = await idem.purge_expired()
    assert purged >= 1
    keys = {k.key for k in await IdempotencyKey.filter(account_id=tenant.account_id)}
    assert keys == {"old"}  # the fresh one stays


def test_purge_is_a_worker_cron():
    from meterbill.worker.settings import cron_jobs

    assert "cron:purge_idempotency_keys" in {c.name for c in cron_jobs()}


async def test_concurrency_really_overlapped_at_least_once(tenant):
    """Guard for the race test above: with a request held in flight, others are refused."""
    fp = idem.fingerprint(CREATE_PRODUCT, {"name": "held"}, None)
    held = await idem.claim(tenant.account_id, "held", fp)
    bodies = [
        r.json()
        for r in await asyncio.gather(
            *[_post(tenant, CREATE_PRODUCT, {"name": "held"}, key="held") for _ in range(4)]
        )
    ]
    assert [_code(b) for b in bodies] == ["IDEMPOTENCY_KEY_IN_USE"] * 4
    await idem.release(held.row_id)
