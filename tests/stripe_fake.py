"""A local HTTP server that plays Stripe's API for the requests meterbill makes: POST
/v1/payment_intents (create and confirm). Answers are shaped like Stripe's documented
objects (a PaymentIntent; an error object with type, code, decline_code, message and the
PaymentIntent); idempotency keys behave like Stripe's: the same key with the same
parameters replays the first answer (Idempotent-Replayed: true), with other parameters
it is a 400 idempotency_error, and while the first request is still running a 409.

The payment method decides the outcome, like Stripe's test tokens:
  pm_card_visa (and any other pm_)            succeeded
  pm_card_chargeDeclined                       402 card_declined / generic_decline
  pm_card_chargeDeclinedInsufficientFunds      402 card_declined / insufficient_funds
  pm_card_chargeDeclinedExpiredCard            402 expired_card
  pm_card_authenticationRequired               402 authentication_required (off-session)
  pm_card_threeDSecureRequired                 200, status requires_action
  pm_card_missing                              400 resource_missing
Switches: fail_next(n) answers the next n requests 500 without acting on them;
delay_first_answer (seconds) and hold_after_charge (until `release` is set) make the first
answer of a key wait after the charge is made; every request and charge is recorded."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SECRET = "sk_test_meterbill_fake"

_DECLINES: dict[str, tuple[int, str, str, str | None, str]] = {
    # payment method: (status, error type, code, decline_code, message)
    "pm_card_chargeDeclined": (
        402,
        "card_error",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    ),
    "pm_card_chargeDeclinedInsufficientFunds": (
        402,
        "card_error",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": (
        402,
        "card_error",
        "expired_card",
        "expired_card",
        "Your card has expired.",
    ),
    "pm_card_authenticationRequired": (
        402,
        "card_error",
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
    "pm_card_missing": (
        400,
        "invalid_request_error",
        "resource_missing",
        None,
        "No such PaymentMethod: 'pm_card_missing'",
    ),
}


@dataclass
class Seen:
    key: str | None
    params: dict[str, str]
    status: int = 0
    replayed: bool = False


@dataclass
class _Stored:
    params: dict[str, str]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.charges: list[dict[str, Any]] = []  # every PaymentIntent that moved money
        self.intents: list[dict[str, Any]] = []
        self.failures_left = 0
        self.hold_after_charge = False
        self.delay_first_answer = 0.0
        self.charged = asyncio.Event()  # set when a charge is made (a held one included)
        self.release = asyncio.Event()
        self.idle = asyncio.Event()  # set while no request is being answered
        self.idle.set()
        self._in_flight = 0
        self._keys: dict[str, _Stored] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> FakeStripe:
        app = web.Application()
        app.router.add_post("/v1/payment_intents", self._create_intent)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, n: int) -> None:
        self.failures_left = n

    def keys(self) -> list[str | None]:
        return [r.key for r in self.requests]

    def charges_for(self, invoice_id: str) -> list[dict[str, Any]]:
        return [c for c in self.charges if c["metadata"].get("meterbill_invoice_id") == invoice_id]

    # ------------------------------------------------------------ the API

    async def _create_intent(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        self.idle.clear()
        try:
            return await self._answer_create(request)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self.idle.set()

    async def _answer_create(self, request: web.Request) -> web.Response:
        form = await request.post()
        params = {k: str(v) for k, v in form.items()}
        key = request.headers.get("Idempotency-Key")
        seen = Seen(key, params)
        self.requests.append(seen)
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return self._answer(seen, 401, _error("invalid_request_error", None, "Invalid API Key"))
        if self.failures_left > 0:
            # Stripe's 500s are not saved under the key: a retry runs the request again.
            self.failures_left -= 1
            return self._answer(seen, 500, _error("api_error", None, "An unknown error occurred"))
        if key is not None and key in self._keys:
            stored = self._keys[key]
            if stored.params != params:
                msg = "Keys for idempotent requests can only be used with the same parameters"
                return self._answer(seen, 400, _error("idempotency_error", None, msg))
            if not stored.done.is_set():
                msg = "There is currently another in-progress request using this Idempotent Key"
                err = _error("invalid_request_error", "idempotency_key_in_use", msg)
                return self._answer(seen, 409, err)
            seen.replayed = True
            return self._answer(seen, stored.status, stored.body, replayed=True)
        stored = _Stored(params)
        if key is not None:
            self._keys[key] = stored
        stored.status, stored.body = self._confirm(params)
        stored.done.set()
        if self.delay_first_answer:
            await asyncio.sleep(self.delay_first_answer)
        if self.hold_after_charge:
            await self.release.wait()
        return self._answer(seen, stored.status, stored.body)

    def _answer(
        self, seen: Seen, status: int, body: dict[str, Any], replayed: bool = False
    ) -> web.Response:
        seen.status = status
        headers = {"Request-Id": f"req_{secrets.token_hex(7)}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return web.Response(
            status=status, text=json.dumps(body), content_type="application/json", headers=headers
        )

    def _confirm(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        pm = p.get("payment_method", "")
        n = next(self._ids)
        intent: dict[str, Any] = {
            "id": f"pi_fake{n:06d}",
            "object": "payment_intent",
            "amount": int(p["amount"]),
            "amount_received": 0,
            "currency": p["currency"],
            "customer": p.get("customer"),
            "payment_method": pm,
            "description": p.get("description"),
            "metadata": {k[9:-1]: v for k, v in p.items() if k.startswith("metadata[")},
            "confirmation_method": "automatic",
            "capture_method": "automatic",
            "created": 1_780_000_000 + n,
            "livemode": False,
            "last_payment_error": None,
            "latest_charge": None,
            "next_action": None,
            "status": "requires_confirmation",
        }
        if pm in _DECLINES:
            status, kind, code, decline, message = _DECLINES[pm]
            err = _error(kind, code, message, decline)
            if status == 402:  # the PaymentIntent exists, its payment failed
                self.intents.append(intent)
                intent["status"] = "requires_payment_method"
                intent["latest_charge"] = f"ch_fake{n:06d}"
                intent["last_payment_error"] = dict(err["error"])
                err["error"]["charge"] = intent["latest_charge"]
                err["error"]["payment_intent"] = intent
            return status, err
        self.intents.append(intent)
        if pm == "pm_card_threeDSecureRequired":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            }
            return 200, intent
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["latest_charge"] = f"ch_fake{n:06d}"
        self.charges.append(intent)
        self.charged.set()
        return 200, intent


def _error(kind: str, code: str | None, message: str, decline: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        err["code"] = code
        err["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if decline is not None:
        err["decline_code"] = decline
    return {"error": err}
