"""MB_PAYMENT_PROVIDER and the Stripe settings: the test cards by default, Stripe only with
a key, and the key never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meterbill.config import Settings, settings_problems
from meterbill.services import payments
from meterbill.services.payments import TestPaymentProvider


def test_the_test_cards_are_the_default() -> None:
    s = Settings()
    assert s.payment_provider == "test" and s.stripe_api_key is None
    assert isinstance(payments.get_provider(), TestPaymentProvider)


def test_stripe_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MB_PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("MB_STRIPE_API_KEY", "")
    with pytest.raises(ValidationError) as exc:
        Settings()
    assert settings_problems(exc.value) == [
        "MB_STRIPE_API_KEY is required when MB_PAYMENT_PROVIDER=stripe"
    ]


def test_an_unknown_provider_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MB_PAYMENT_PROVIDER", "paypal")
    with pytest.raises(ValidationError) as exc:
        Settings()
    [problem] = settings_problems(exc.value)
    assert problem.startswith("MB_PAYMENT_PROVIDER: ")


async def test_stripe_settings_install_the_stripe_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from meterbill.services.stripe_payments import StripeProvider

    monkeypatch.setenv("MB_PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("MB_STRIPE_API_KEY", "sk_test_123")
    monkeypatch.setenv("MB_STRIPE_API_BASE", "http://127.0.0.1:9/")
    s = Settings()
    assert "sk_test_123" not in repr(s)  # a SecretStr: not in logs or tracebacks
    try:
        payments.configure(s)
        provider = payments.get_provider()
        assert isinstance(provider, StripeProvider)
        assert provider.api_base == "http://127.0.0.1:9"
    finally:
        await payments.close()
        payments.set_provider(TestPaymentProvider())
