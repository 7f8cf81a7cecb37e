"""Prices: validated by billing.price_rules, stored with their tiers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.price_rules import PriceInput, validate_price
from meterbill.billing.pricing import PriceSpec, Tier
from meterbill.db.models import Meter, Price, PriceTier, Product
from meterbill.services.pages import Page, paginate


@dataclass
class PriceRequest:
    product_id: str
    nickname: str | None
    pricing: PriceInput


def _value(e: Any) -> Any:
    return getattr(e, "value", e)


def request_from(inp: Any) -> PriceRequest:
    """A CreatePriceInput (GraphQL object or anything shaped like it) as a PriceRequest."""
    rec = inp.recurring
    return PriceRequest(
        product_id=str(inp.product_id),
        nickname=inp.nickname,
        pricing=PriceInput(
            currency=inp.currency,
            interval=_value(rec.interval),
            interval_count=1 if rec.interval_count is None else rec.interval_count,
            usage_type=_value(rec.usage_type) or "LICENSED",
            meter_id=rec.meter_id,
            billing_scheme=_value(inp.billing_scheme) or "PER_UNIT",
            unit_amount=inp.unit_amount,
            unit_amount_decimal=inp.unit_amount_decimal,
            tiers_mode=_value(inp.tiers_mode),
            tiers=inp.tiers,
            transform_quantity=inp.transform_quantity,
        ),
    )


def _text(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


async def create_price(account_id: str, req: PriceRequest) -> Price:
    errors: list[FieldError] = []
    try:
        spec = validate_price(req.pricing)
    except DomainError as exc:
        errors += exc.errors
        spec = None
    if not await Product.exists(id=req.product_id, account_id=account_id):
        errors.append(
            FieldError("NOT_FOUND", f"no product {req.product_id}", ("input", "productId"))
        )
    if req.nickname is not None and len(req.nickname) > 200:
        errors.append(
            FieldError("INVALID", "nickname must be at most 200 characters", ("input", "nickname"))
        )
    meter_id = req.pricing.meter_id
    if meter_id and not await Meter.exists(id=meter_id, account_id=account_id):
        errors.append(
            FieldError("NOT_FOUND", f"no meter {meter_id}", ("input", "recurring", "meterId"))
        )
    if errors or spec is None:
        raise DomainError(errors)
    p = req.pricing
    async with in_transaction():
        price = await Price.create(
            account_id=account_id,
            product_id=req.product_id,
            currency=spec.currency,
            nickname=req.nickname,
            billing_scheme=str(_value(spec.billing_scheme)),
            unit_amount_decimal=_text(spec.unit_amount),
            tiers_mode=_value(spec.tiers_mode),
            transform_divide_by=spec.transform_divide_by,
            transform_round=_value(spec.transform_round),
            interval=p.interval,
            interval_count=p.interval_count,
            usage_type=p.usage_type,
            meter_id=meter_id if p.usage_type == "METERED" else None,
        )
        if spec.tiers:
            await PriceTier.bulk_create(
                [
                    PriceTier(
                        price_id=price.id,
                        position=n,
                        up_to=t.up_to,
                        unit_amount_decimal=_text(t.unit_amount),
                        flat_amount_decimal=_text(t.flat_amount),
                    )
                    for n, t in enumerate(spec.tiers, start=1)
                ]
            )
    return price


async def get_price(account_id: str, price_id: str) -> Price | None:
    return await Price.get_or_none(id=price_id, account_id=account_id)


class PriceColumns(Protocol):
    """What spec_of reads of a price: a Price, or a plain row of the same columns."""

    @property
    def currency(self) -> str: ...
    @property
    def billing_scheme(self) -> str: ...
    @property
    def unit_amount_decimal(self) -> str | None: ...
    @property
    def tiers_mode(self) -> str | None: ...
    @property
    def transform_divide_by(self) -> int | None: ...
    @property
    def transform_round(self) -> str | None: ...


class TierColumns(Protocol):
    @property
    def position(self) -> int: ...
    @property
    def up_to(self) -> int | None: ...
    @property
    def unit_amount_decimal(self) -> str | None: ...
    @property
    def flat_amount_decimal(self) -> str | None: ...


async def list_prices(
    account_id: str,
    first: int,
    after: str | None,
    product_id: str | None = None,
    active: bool | None = None,
) -> Page[Any]:
    qs = Price.filter(account_id=account_id)
    if product_id:
        qs = qs.filter(product_id=product_id)
    if active is not None:
        qs = qs.filter(active=active)
    return await paginate(qs, first, after)


def spec_of(price: PriceColumns, tiers: Sequence[TierColumns]) -> PriceSpec:
    """The pure pricing spec of a stored price (what billing.pricing prices with)."""

    def dec(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    return PriceSpec(
        currency=price.currency,
        billing_scheme=price.billing_scheme,  # type: ignore[arg-type]
        unit_amount=dec(price.unit_amount_decimal),
        tiers_mode=price.tiers_mode,  # type: ignore[arg-type]
        tiers=tuple(
            Tier(
                up_to=t.up_to,
                unit_amount=dec(t.unit_amount_decimal),
                flat_amount=dec(t.flat_amount_decimal),
            )
            for t in sorted(tiers, key=lambda t: t.position)
        ),
        transform_divide_by=price.transform_divide_by,
        transform_round=price.transform_round,  # type: ignore[arg-type]
    )


async def tiers_of(account_id: str, price_ids: Sequence[str]) -> list[PriceTier]:
    """The tiers of the account's prices among `price_ids` (another account's: none)."""
    return await PriceTier.filter(price_id__in=list(price_ids), price__account_id=account_id)
