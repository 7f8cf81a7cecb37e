"""Webhook endpoints of an account: create (the secret is returned once), update, delete,
list. Urls are checked for SSRF (addresses.py) after DNS resolution."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from meterbill.billing.errors import DomainError, FieldError, not_found
from meterbill.db.models import WebhookEndpoint
from meterbill.services.webhooks import addresses, config, secrets

# Contract README, section "events" (the last two come with other extensions).
EVENT_TYPES = frozenset(
    {
        "customer.created",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.voided",
        "invoice.marked_uncollectible",
        "billing.alert.triggered",
        "credit_grant.created",
    }
)
STATUSES = ("ENABLED", "DISABLED")
MAX_URL = 2048
MAX_DESCRIPTION = 500


@dataclass
class EndpointChange:
    url: str | None = None
    description: str | None = None
    enabled_events: list[str] | None = None
    status: str | None = None


def enabled_events(endpoint: WebhookEndpoint) -> list[str]:
    return list(orjson.loads(endpoint.enabled_events))


def matches(enabled: list[str], type_: str) -> bool:
    return "*" in enabled or type_ in enabled


async def _url_errors(url: str) -> list[FieldError]:
    if len(url) > MAX_URL:
        return [FieldError("INVALID", f"url is longer than {MAX_URL}", ("input", "url"))]
    try:
        await addresses.resolve(url, config().allow_private)
    except addresses.Refused as exc:
        return [FieldError("INVALID", str(exc), ("input", "url"))]
    return []


def _events_errors(events: list[str]) -> list[FieldError]:
    if not events:
        return [FieldError("INVALID", "enabledEvents is empty", ("input", "enabledEvents"))]
    out = []
    for n, e in enumerate(events):
        if e != "*" and e not in EVENT_TYPES:
            path = ("input", "enabledEvents", str(n))
            out.append(FieldError("INVALID", f"unknown event type {e[:100]!r}", path))
    return out


def _description_errors(description: str | None) -> list[FieldError]:
    if description is not None and len(description) > MAX_DESCRIPTION:
        msg = f"description is longer than {MAX_DESCRIPTION}"
        return [FieldError("INVALID", msg, ("input", "description"))]
    if description is not None and "\x00" in description:
        return [FieldError("INVALID", "description holds a NUL", ("input", "description"))]
    return []


async def create_endpoint(
    account_id: str, url: str, description: str | None, events: list[str] | None
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its secret (whsec_...), which is not kept in the clear."""
    events = ["*"] if events is None else events
    errors = await _url_errors(url) + _events_errors(events) + _description_errors(description)
    if errors:
        raise DomainError(errors)
    secret = secrets.new_secret()
    endpoint = WebhookEndpoint(
        account_id=account_id,
        url=url,
        description=description,
        enabled_events=orjson.dumps(sorted(set(events))).decode(),
        status="ENABLED",
    )
    endpoint.secret_encrypted = secrets.encrypt(secret, endpoint.id)
    await endpoint.save()
    return endpoint, secret


async def get_endpoint(account_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    return await WebhookEndpoint.get_or_none(id=endpoint_id, account_id=account_id)


async def _owned(account_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await get_endpoint(account_id, endpoint_id)
    if endpoint is None:
        raise not_found(f"no webhook endpoint {endpoint_id}", "input", "id")
    return endpoint


async def update_endpoint(
    account_id: str, endpoint_id: str, change: EndpointChange
) -> WebhookEndpoint:
    endpoint = await _owned(account_id, endpoint_id)
    errors: list[FieldError] = []
    if change.url is not None:
        errors += await _url_errors(change.url)
    if change.enabled_events is not None:
        errors += _events_errors(change.enabled_events)
    errors += _description_errors(change.description)
    if change.status is not None and change.status not in STATUSES:
        errors.append(FieldError("INVALID", "status is not a status", ("input", "status")))
    if errors:
        raise DomainError(errors)
    if change.url is not None:
        endpoint.url = change.url
    if change.description is not None:
        endpoint.description = change.description
    if change.enabled_events is not None:
        endpoint.enabled_events = orjson.dumps(sorted(set(change.enabled_events))).decode()
    if change.status is not None:
        endpoint.status = change.status
    await endpoint.save()
    return endpoint


async def delete_endpoint(account_id: str, endpoint_id: str) -> WebhookEndpoint:
    """Deletes the endpoint and its delivery log (nothing more is sent to it)."""
    endpoint = await _owned(account_id, endpoint_id)
    await endpoint.delete()
    return endpoint


async def list_endpoints(account_id: str) -> list[WebhookEndpoint]:
    return list(await WebhookEndpoint.filter(account_id=account_id).order_by("-created_at", "-id"))
