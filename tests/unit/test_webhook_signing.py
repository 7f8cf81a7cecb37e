"""Webhook pieces without I/O: the Standard Webhooks signature (pinned to the specification
with hmac alone, and verified with the `standardwebhooks` package), the body, which
addresses are refused, secrets' encryption, the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from meterbill.config import Settings
from meterbill.services import webhooks
from meterbill.services.webhooks import addresses, deliveries, secrets, signing
from meterbill.services.webhooks.send import Outcome

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's example secret
AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_signature_is_the_specifications_hmac() -> None:
    payload = signing.body("evt_1", "invoice.paid", "2026-03-01T12:00:00Z", '{"object":"x"}')
    headers = signing.headers(signing.signer(SECRET), "evt_1", AT, payload)
    ts = str(int(AT.timestamp()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"evt_1.{ts}.".encode() + payload, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"] == ts


def test_a_receiver_verifies_it_and_refuses_tampering() -> None:
    payload = signing.body("evt_2", "customer.created", "2026-03-01T12:00:00Z", '{"a":[1,2]}')
    now = datetime.now(UTC)
    headers = signing.headers(signing.signer(SECRET), "evt_2", now, payload)
    assert Webhook(SECRET).verify(payload, headers) == {
        "id": "evt_2",
        "type": "customer.created",
        "timestamp": "2026-03-01T12:00:00Z",
        "data": {"a": [1, 2]},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(payload.replace(b"[1,2]", b"[1,3]"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets.new_secret()).verify(payload, headers)


def test_the_body_splices_the_stored_data_as_is() -> None:
    data = orjson.dumps({"object": "invoice", "total": 18000, "number": None}).decode()
    got = orjson.loads(signing.body("evt_3", "invoice.paid", "T", data))
    assert got == {
        "id": "evt_3",
        "type": "invoice.paid",
        "timestamp": "T",
        "data": orjson.loads(data),
    }


@pytest.mark.parametrize(
    ("ip", "refused"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.251", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:127.0.0.1", True),
        ("93.184.215.14", False),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
    ],
)
def test_which_addresses_are_refused(ip: str, refused: bool) -> None:
    assert addresses.private(ipaddress.ip_address(ip)) is refused


def test_secrets_are_encrypted_per_endpoint_under_the_key(tmp_path: Path) -> None:
    webhooks.configure(None, secret_key="one key")
    try:
        secret = secrets.new_secret()
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
        stored = secrets.encrypt(secret, "we_a")
        assert secret not in stored and stored != secrets.encrypt(secret, "we_a")  # nonce
        assert secrets.decrypt(stored, "we_a") == secret
        with pytest.raises(secrets.SecretKeyMissing):
            secrets.decrypt(stored, "we_b")
        webhooks.configure(None, secret_key="another key")
        with pytest.raises(secrets.SecretKeyMissing):
            secrets.decrypt(stored, "we_a")
    finally:
        webhooks.configure(None)


def test_sqlite_makes_a_private_key_file_and_postgres_needs_the_setting(tmp_path: Path) -> None:
    try:
        webhooks.configure(Settings(database_url=f"sqlite://{tmp_path}/mb.db"))
        stored = secrets.encrypt("whsec_AAAA", "we_a")
        key_file = tmp_path / "meterbill.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        webhooks.configure(Settings(database_url=f"sqlite://{tmp_path}/mb.db"))
        assert secrets.decrypt(stored, "we_a") == "whsec_AAAA"  # the same key, read back
        webhooks.configure(Settings(database_url="postgres://u@127.0.0.1:1/x"))
        with pytest.raises(secrets.SecretKeyMissing, match="MB_SECRET_KEY"):
            secrets.encrypt("whsec_AAAA", "we_a")
    finally:
        webhooks.configure(None)


def test_settings_parse_the_retry_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhook_retry_schedule == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert Settings().webhook_timeout == 10
    monkeypatch.setenv("MB_WEBHOOK_RETRY_SCHEDULE", "1, 2,3")
    assert Settings().webhook_retry_schedule == [1, 2, 3]
    monkeypatch.setenv("MB_WEBHOOK_RETRY_SCHEDULE", "")
    assert Settings().webhook_retry_schedule == []
    monkeypatch.setenv("MB_WEBHOOK_RETRY_SCHEDULE", "5,-1")
    with pytest.raises(ValueError):
        Settings()


def _job(attempts: int) -> deliveries.Job:
    return deliveries.Job(
        "whd_1", "we_1", attempts, "http://x", True, "evt_1", b"{}", signing.signer(SECRET)
    )


def test_outcomes_follow_the_schedule_then_fail() -> None:
    webhooks.configure(None, retry_schedule=(5, 300))
    try:
        fail = Outcome(False, 500, "HTTP 500")
        row = deliveries.outcome_row(_job(0), fail, AT)
        assert row[1:5] == ("PENDING", 1, AT, AT + timedelta(seconds=5))
        row = deliveries.outcome_row(_job(1), fail, AT)
        assert row[1:5] == ("PENDING", 2, AT, AT + timedelta(seconds=300))
        assert deliveries.outcome_row(_job(2), fail, AT)[1:5] == ("FAILED", 3, AT, None)
        refused = Outcome(False, None, "non-public", final=True)
        assert deliveries.outcome_row(_job(0), refused, AT)[1] == "FAILED"
        ok = deliveries.outcome_row(_job(1), Outcome(True, 204), AT)
        assert ok == ("whd_1", "SUCCEEDED", 2, AT, None, 204, None)
    finally:
        webhooks.configure(None)
