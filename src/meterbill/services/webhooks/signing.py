"""Standard Webhooks request bodies and headers, signed with the specification's own
Python package (`standardwebhooks`, no dependencies): `v1,` + base64(HMAC-SHA256(key,
"{webhook-id}.{webhook-timestamp}.{body}")), the key being the base64 part of the
endpoint's whsec_ secret. tests/unit/test_webhook_signing.py pins it to the specification
with hmac alone."""

from __future__ import annotations

from datetime import datetime

import orjson
from standardwebhooks import Webhook


def body(event_id: str, type_: str, timestamp: str, data_json: str) -> bytes:
    """{"id", "type", "timestamp", "data"}: `data_json` is the event's stored JSON text,
    spliced in as it is (not parsed and dumped again)."""
    head = orjson.dumps({"id": event_id, "type": type_, "timestamp": timestamp})
    return head[:-1] + b',"data":' + data_json.encode() + b"}"


def signer(secret: str) -> Webhook:
    return Webhook(secret)


def headers(signer: Webhook, msg_id: str, at: datetime, payload: bytes) -> dict[str, str]:
    """The headers of one attempt made at `at` (webhook-id stays the event id on every
    attempt: receivers deduplicate by it)."""
    return {
        "content-type": "application/json",
        "user-agent": "meterbill-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signer.sign(msg_id, at, payload),
    }
