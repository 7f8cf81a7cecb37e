"""The Stripe payment provider (MB_PAYMENT_PROVIDER=stripe).

A charge is one request: an off-session PaymentIntent created and confirmed at once
(`confirm=true`, `off_session=true`) for the customer's saved payment method, through
stripe-python's async client (its aiohttp client, on the worker's event loop: no thread per
charge). The request carries the invoice attempt's idempotency key, so a request repeated
after a timeout, or by a worker that died after Stripe charged and before meterbill wrote
the attempt, gets Stripe's first answer back instead of a second charge.

What Stripe answers maps onto the attempt (services/payments.ChargeResult):
- a PaymentIntent that succeeded -> paid;
- a card error (402: card_declined, insufficient_funds, expired_card ...) -> a failed
  attempt with Stripe's code, decline code and message; authentication_required, or a
  PaymentIntent left in requires_action, -> failed and marked as needing the customer;
- an invalid request (400/404: no such payment method, one not saved on the customer ...)
  -> a failed attempt with Stripe's code: asking again the same way fails the same way;
- no answer (network errors, timeouts, 409 key in use, 429, 5xx, a bad API key) -> raises
  ProviderUnavailable after stripe-python's own retries (same key): nothing is recorded and
  the invoice stays pending for the next billing pass, which retries with the same key."""

from __future__ import annotations

from typing import Any

import aiohttp
import stripe

from meterbill.config import Settings
from meterbill.services.payments import ChargeResult, CustomerIds, MethodOnFile


class ProviderUnavailable(Exception):
    """Stripe could not be asked or did not answer; the charge's outcome is unknown."""


def _failed(
    error: Any, reference: str | None, default_message: str, code: str | None = None
) -> ChargeResult:
    code = code or getattr(error, "code", None)
    return ChargeResult(
        False,
        reference=reference,
        failure_message=getattr(error, "message", None) or default_message,
        failure_code=code,
        decline_code=getattr(error, "decline_code", None),
        needs_customer_action=code == "authentication_required",
    )


def intent_outcome(intent: Any) -> ChargeResult:
    """A PaymentIntent that Stripe answered with (200) as the attempt's result."""
    status = getattr(intent, "status", None)
    if status == "succeeded":
        return ChargeResult(True, reference=intent.id)
    if status == "requires_action":
        return ChargeResult(
            False,
            reference=intent.id,
            failure_message="The payment needs the customer's authentication (3-D Secure).",
            failure_code="authentication_required",
            needs_customer_action=True,
        )
    error = getattr(intent, "last_payment_error", None)
    if error is not None:
        return _failed(error, intent.id, "The payment failed.")
    # processing (not for cards), requires_capture (meterbill never asks for it) ...
    msg = f"The PaymentIntent is {status}; meterbill only records succeeded or failed."
    return ChargeResult(False, reference=intent.id, failure_message=msg, failure_code=status)


def error_outcome(exc: stripe.StripeError) -> ChargeResult:
    """A card error or an invalid request as the attempt's result; anything else raises."""
    if isinstance(exc, stripe.CardError | stripe.InvalidRequestError):
        error = exc.error
        intent = getattr(error, "payment_intent", None) if error is not None else None
        reference = getattr(intent, "id", None)
        code = exc.code or (getattr(error, "code", None) if error is not None else None)
        return _failed(error, reference, str(exc.user_message or "The payment failed."), code)
    raise ProviderUnavailable(f"Stripe did not take the charge: {exc!r}") from exc


class StripeProvider:
    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = stripe.DEFAULT_API_BASE,
        timeout: float = 30.0,
        max_network_retries: int = 2,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        # stripe-python's aiohttp client: 1.8-2.2 ms of CPU per charge against 7.9-8.9 with
        # its httpx one (httpcore retries a failed `import sniffio` per request), on the
        # local fake (bench/stripe_http_clients.py).
        self._http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout))
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": self.api_base},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        assert settings.stripe_api_key is not None  # Settings refuse stripe without a key
        return cls(
            settings.stripe_api_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout,
            max_network_retries=settings.stripe_max_network_retries,
        )

    def method_on_file(self, customer: CustomerIds) -> MethodOnFile | None:
        if customer.stripe_payment_method_id and customer.stripe_customer_id:
            return MethodOnFile(customer.stripe_payment_method_id, customer.stripe_customer_id)
        return None

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        provider_customer_id: str | None = None,
        invoice_id: str | None = None,
        invoice_number: str | None = None,
    ) -> ChargeResult:
        metadata = {"meterbill_customer_id": customer_id}
        if invoice_id is not None:
            metadata["meterbill_invoice_id"] = invoice_id
        if invoice_number is not None:
            metadata["meterbill_invoice_number"] = invoice_number
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "confirm": True,
            "off_session": True,
            "metadata": metadata,
        }
        if provider_customer_id is not None:
            params["customer"] = provider_customer_id
        if invoice_number is not None:
            params["description"] = f"Invoice {invoice_number}"
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"meterbill-{idempotency_key}"},
            )
        except stripe.StripeError as exc:
            return error_outcome(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Reading the body is outside stripe-python's own handling (and its retries).
            raise ProviderUnavailable(f"Stripe's answer was cut short: {exc!r}") from exc
        return intent_outcome(intent)

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # stripe-python is untyped here
