"""Contract extension "events" over GraphQL: the event log (newest first, cursors, filters,
tenant-scoped), webhook endpoints (secret shown once and kept encrypted, SSRF refusal
naming the field), the delivery log and resend, end to end with a real receiver."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from meterbill.db.models import WebhookEndpoint
from meterbill.services import webhooks
from meterbill.services.webhooks import secrets
from tests.conftest import Tenant
from tests.webhook_receiver import Receiver, wait_until

ENDPOINT = "id url description enabledEvents status createdAt"
CREATE = f"""mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT} }} secret userErrors {{ field code message }} }} }}"""
UPDATE = f"""mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT} }} userErrors {{ field code message }} }} }}"""
DELETE = f"""mutation($id: ID!) {{ deleteWebhookEndpoint(input: {{id: $id}}) {{
    webhookEndpoint {{ {ENDPOINT} }} userErrors {{ field code message }} }} }}"""
LIST = f"{{ webhookEndpoints {{ {ENDPOINT} }} }}"
EVENTS = """query($first: Int, $after: String, $type: String, $objectId: ID) {
  events(first: $first, after: $after, type: $type, objectId: $objectId) {
    edges { cursor node { id type objectId data createdAt } }
    pageInfo { hasNextPage endCursor } } }"""
CUSTOMER = """mutation($name: String!) { createCustomer(input: {name: $name}) {
  customer { id } userErrors { code } } }"""
DELIVERIES = """query($endpointId: ID!, $status: WebhookDeliveryStatus) {
  webhookDeliveries(endpointId: $endpointId, status: $status) {
    edges { node { id status attemptCount lastAttemptAt nextAttemptAt lastResponseStatus
                   lastError event { id type } endpoint { id } } }
    pageInfo { hasNextPage } } }"""
RESEND = """mutation($eventId: ID!, $endpointId: ID!) {
  resendWebhookEvent(input: {eventId: $eventId, endpointId: $endpointId}) {
    webhookDelivery { id status event { id } endpoint { id } }
    userErrors { field code message } } }"""
# A public address, accepted; never connected to: no test makes an event these endpoints
# subscribe to (tests reach only 127.0.0.1).
PUBLIC_URL = "https://93.184.215.14/hooks"


@pytest.fixture
async def private_allowed(app: Any) -> AsyncIterator[None]:
    """The app configured webhooks at start-up; allow the 127.0.0.1 receiver."""
    before = webhooks.config()
    webhooks.configure(None, **{**before.__dict__, "allow_private": True})
    yield
    webhooks.configure(None, **before.__dict__)


async def _create(t: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    out = (await t.data(CREATE, {"input": {"url": url, **extra}}))["createWebhookEndpoint"]
    return out  # type: ignore[no-any-return]


async def _customer(t: Tenant, name: str) -> str:
    return (await t.data(CUSTOMER, {"name": name}))["createCustomer"]["customer"]["id"]  # type: ignore[no-any-return]


async def test_create_shows_the_secret_once_and_keeps_it_encrypted(tenant: Tenant) -> None:
    out = await _create(tenant, PUBLIC_URL, description="books", enabledEvents=["invoice.paid"])
    assert out["userErrors"] == []
    ep, secret = out["webhookEndpoint"], out["secret"]
    assert ep["id"].startswith("we_") and ep["status"] == "ENABLED"
    assert ep["enabledEvents"] == ["invoice.paid"] and ep["description"] == "books"
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    row = await WebhookEndpoint.get(id=ep["id"])
    assert secret not in row.secret_encrypted and secret[6:] not in row.secret_encrypted
    assert secrets.decrypt(row.secret_encrypted, row.id) == secret
    with pytest.raises(secrets.SecretKeyMissing):  # bound to its endpoint
        secrets.decrypt(row.secret_encrypted, "we_other")
    listed = (await tenant.data(LIST))["webhookEndpoints"]
    assert listed == [ep]  # no secret anywhere but the create payload
    default = await _create(tenant, PUBLIC_URL)
    assert default["webhookEndpoint"]["enabledEvents"] == ["*"]


async def test_a_replayed_create_answers_the_secret_null(tenant: Tenant) -> None:
    variables = {"input": {"url": PUBLIC_URL}}
    hdrs = {"Idempotency-Key": "hook-create-1"}
    first = (await tenant.data(CREATE, variables, headers=hdrs))["createWebhookEndpoint"]
    again = (await tenant.data(CREATE, variables, headers=hdrs))["createWebhookEndpoint"]
    assert first["secret"].startswith("whsec_")
    assert again["secret"] is None
    assert again["webhookEndpoint"]["id"] == first["webhookEndpoint"]["id"]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1:9/hook", "non-public address (127.0.0.1)"),
        ("http://localhost/hook", "non-public address"),
        ("http://10.1.2.3/hook", "non-public address (10.1.2.3)"),
        ("http://169.254.169.254/latest/meta-data", "non-public address (169.254.169.254)"),
        ("http://[::1]/hook", "non-public address (::1)"),
        ("http://224.0.0.1/hook", "non-public address (224.0.0.1)"),
        ("http://[::ffff:192.168.0.1]/hook", "non-public address"),
        ("ftp://example.com/hook", "http or https"),
        ("http://user:pw@93.184.215.14/hook", "credentials"),
        ("not a url", "http or https"),
    ],
)
async def test_refused_urls_are_invalid_naming_the_field(
    tenant: Tenant, url: str, needle: str
) -> None:
    out = await _create(tenant, url)
    assert out["webhookEndpoint"] is None and out["secret"] is None
    (err,) = out["userErrors"]
    assert (err["field"], err["code"]) == (["input", "url"], "INVALID")
    assert needle in err["message"]


async def test_update_checks_like_create_and_unknown_events_are_invalid(tenant: Tenant) -> None:
    ep = (await _create(tenant, PUBLIC_URL))["webhookEndpoint"]
    bad = await tenant.data(UPDATE, {"input": {"id": ep["id"], "url": "http://127.0.0.1/"}})
    (err,) = bad["updateWebhookEndpoint"]["userErrors"]
    assert (err["field"], err["code"]) == (["input", "url"], "INVALID")
    out = await _create(tenant, PUBLIC_URL, enabledEvents=["invoice.paid", "invoice.eaten"])
    (err,) = out["userErrors"]
    assert err["field"] == ["input", "enabledEvents", "1"] and err["code"] == "INVALID"
    out = await _create(tenant, PUBLIC_URL, enabledEvents=[])
    assert out["userErrors"][0]["field"] == ["input", "enabledEvents"]
    changed = await tenant.data(
        UPDATE,
        {"input": {"id": ep["id"], "status": "DISABLED", "enabledEvents": ["customer.created"]}},
    )
    got = changed["updateWebhookEndpoint"]["webhookEndpoint"]
    assert got["status"] == "DISABLED" and got["enabledEvents"] == ["customer.created"]
    assert got["url"] == PUBLIC_URL


async def test_tenants_see_only_their_own_endpoints_events_and_deliveries(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    ep = (await _create(tenant, PUBLIC_URL, enabledEvents=["invoice.voided"]))["webhookEndpoint"]
    cus = await _customer(tenant, "Mine")
    assert (await other_tenant.data(LIST))["webhookEndpoints"] == []
    for doc, variables in (
        (UPDATE, {"input": {"id": ep["id"], "status": "DISABLED"}}),
        (DELETE, {"id": ep["id"]}),
    ):
        data = await other_tenant.data(doc, variables)
        (payload,) = data.values()
        assert payload["webhookEndpoint"] is None
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    theirs = await other_tenant.data(EVENTS, {"objectId": cus})
    assert theirs["events"]["edges"] == []
    (event,) = (await tenant.data(EVENTS, {"objectId": cus}))["events"]["edges"]
    assert (
        await other_tenant.data(
            "query($id: ID!) { event(id: $id) { id } }", {"id": event["node"]["id"]}
        )
    )["event"] is None
    body = await other_tenant.gql(DELIVERIES, {"endpointId": ep["id"]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    resent = await other_tenant.data(
        RESEND, {"eventId": event["node"]["id"], "endpointId": ep["id"]}
    )
    codes = {e["code"] for e in resent["resendWebhookEvent"]["userErrors"]}
    assert codes == {"NOT_FOUND"} and resent["resendWebhookEvent"]["webhookDelivery"] is None
    # Still there for its owner.
    assert [e["id"] for e in (await tenant.data(LIST))["webhookEndpoints"]] == [ep["id"]]


async def test_events_newest_first_with_cursors_and_filters(tenant: Tenant) -> None:
    ids = [await _customer(tenant, f"c{n}") for n in range(5)]
    page1 = (await tenant.data(EVENTS, {"first": 2, "type": "customer.created"}))["events"]
    assert [e["node"]["objectId"] for e in page1["edges"]] == [ids[4], ids[3]]
    assert page1["pageInfo"]["hasNextPage"] is True
    after = page1["pageInfo"]["endCursor"]
    rest = await tenant.data(EVENTS, {"first": 10, "after": after, "type": "customer.created"})
    assert [e["node"]["objectId"] for e in rest["events"]["edges"]] == [ids[2], ids[1], ids[0]]
    assert rest["events"]["pageInfo"]["hasNextPage"] is False
    (one,) = (await tenant.data(EVENTS, {"objectId": ids[2]}))["events"]["edges"]
    node = one["node"]
    assert node["id"].startswith("evt_") and node["type"] == "customer.created"
    assert node["data"]["object"] == "customer" and node["data"]["id"] == ids[2]
    assert node["data"]["name"] == "c2" and node["createdAt"].endswith("Z")
    assert (await tenant.data(EVENTS, {"type": "invoice.paid"}))["events"]["edges"] == []
    bad = await tenant.gql(EVENTS, {"after": "garbage!"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_end_to_end_delivery_log_and_resend(tenant: Tenant, private_allowed: None) -> None:
    receiver = await Receiver().start()
    try:
        out = await _create(tenant, receiver.url, enabledEvents=["customer.created"])
        receiver.secrets.append(out["secret"])
        ep = out["webhookEndpoint"]["id"]
        cus = await _customer(tenant, "Delivered")
        await wait_until(lambda: receiver.got, "the receiver to get customer.created")
        (got,) = receiver.got
        assert got.verified and got.payload["data"]["id"] == cus

        async def succeeded() -> Any:
            edges = (await tenant.data(DELIVERIES, {"endpointId": ep}))["webhookDeliveries"]
            return (
                edges["edges"]
                if edges["edges"]
                and all(e["node"]["status"] == "SUCCEEDED" for e in edges["edges"])
                else None
            )

        (d,) = await wait_until(succeeded, "the delivery log to say SUCCEEDED")
        node = d["node"]
        assert node["attemptCount"] == 1 and node["lastResponseStatus"] == 200
        assert node["nextAttemptAt"] is None and node["lastError"] is None
        assert node["event"]["id"] == got.webhook_id and node["endpoint"]["id"] == ep
        resent = await tenant.data(RESEND, {"eventId": got.webhook_id, "endpointId": ep})
        delivery = resent["resendWebhookEvent"]["webhookDelivery"]
        assert delivery["id"] != node["id"] and delivery["status"] == "PENDING"
        await wait_until(lambda: len(receiver.got) == 2, "the resent delivery")
        assert receiver.got[1].verified and receiver.got[1].webhook_id == got.webhook_id
        filtered = await tenant.data(DELIVERIES, {"endpointId": ep, "status": "FAILED"})
        assert filtered["webhookDeliveries"]["edges"] == []
        gone = await tenant.data(DELETE, {"id": ep})
        assert gone["deleteWebhookEndpoint"]["webhookEndpoint"]["id"] == ep
        assert (await tenant.data(LIST))["webhookEndpoints"] == []
    finally:
        await receiver.close()
