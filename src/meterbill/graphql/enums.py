"""The contract's enums."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class UserErrorCode(Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INACTIVE = "INACTIVE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    TOO_LATE = "TOO_LATE"


@strawberry.enum
class AggregationFormula(Enum):
    SUM = "SUM"
    COUNT = "COUNT"
    LAST = "LAST"
    MAX = strawberry.enum_value("MAX", description="Largest value in the window or period.")
    UNIQUE_COUNT = strawberry.enum_value(
        "UNIQUE_COUNT",
        description="Number of distinct values of valuePayloadKey (compared as strings) in the "
        "window or period.",
    )


@strawberry.enum
class MeterStatus(Enum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@strawberry.enum
class CustomerMappingType(Enum):
    BY_ID = strawberry.enum_value(
        "BY_ID", description="payload value is a meterbill customer id (cus_...)"
    )
    BY_EXTERNAL_ID = strawberry.enum_value(
        "BY_EXTERNAL_ID", description="payload value is the customer's externalId"
    )


@strawberry.enum
class BillingScheme(Enum):
    PER_UNIT = "PER_UNIT"
    TIERED = "TIERED"


@strawberry.enum
class TiersMode(Enum):
    GRADUATED = "GRADUATED"
    VOLUME = "VOLUME"


@strawberry.enum
class RecurringInterval(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


@strawberry.enum
class UsageType(Enum):
    LICENSED = "LICENSED"
    METERED = "METERED"


@strawberry.enum
class RoundingDirection(Enum):
    UP = "UP"
    DOWN = "DOWN"


@strawberry.enum
class TestClockStatus(Enum):
    READY = "READY"
    ADVANCING = "ADVANCING"
    INTERNAL_FAILURE = "INTERNAL_FAILURE"


@strawberry.enum
class ApiKeyScope(Enum):
    ADMIN = strawberry.enum_value("ADMIN", description="everything")
    READ = strawberry.enum_value("READ", description="queries only")
    USAGE_WRITE = strawberry.enum_value(
        "USAGE_WRITE", description="recordMeterEvent(s) and cancelMeterEvent only"
    )


@strawberry.enum
class SubscriptionStatus(Enum):
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    UNPAID = "UNPAID"
    CANCELED = "CANCELED"
    INCOMPLETE = strawberry.enum_value(
        "INCOMPLETE",
        description="The first invoice's automatic payment failed at creation; ACTIVE once it "
        "is paid. cancelSubscription cancels it now only, voiding that invoice.",
    )
    INCOMPLETE_EXPIRED = strawberry.enum_value(
        "INCOMPLETE_EXPIRED",
        description="INCOMPLETE for 23 hours: its first invoice was voided; nothing more is "
        "billed.",
    )


@strawberry.enum
class BillingMode(Enum):
    CLASSIC = "CLASSIC"
    FLEXIBLE = "FLEXIBLE"


@strawberry.enum
class CollectionMethod(Enum):
    CHARGE_AUTOMATICALLY = "CHARGE_AUTOMATICALLY"
    SEND_INVOICE = "SEND_INVOICE"


@strawberry.enum
class ProrationBehavior(Enum):
    CREATE_PRORATIONS = "CREATE_PRORATIONS"
    ALWAYS_INVOICE = "ALWAYS_INVOICE"
    NONE = "NONE"


@strawberry.enum
class InvoiceStatus(Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"
    VOID = "VOID"


@strawberry.enum
class BillingReason(Enum):
    SUBSCRIPTION_CREATE = "SUBSCRIPTION_CREATE"
    SUBSCRIPTION_CYCLE = "SUBSCRIPTION_CYCLE"
    SUBSCRIPTION_UPDATE = "SUBSCRIPTION_UPDATE"
    SUBSCRIPTION_CANCEL = "SUBSCRIPTION_CANCEL"
    MANUAL = "MANUAL"
    UPCOMING = "UPCOMING"


@strawberry.enum
class InvoiceLineType(Enum):
    SUBSCRIPTION = "SUBSCRIPTION"
    PRORATION = "PRORATION"


@strawberry.enum
class CustomerBalanceTransactionType(Enum):
    ADJUSTMENT = strawberry.enum_value(
        "ADJUSTMENT", description="Created with createCustomerBalanceTransaction."
    )
    APPLIED_TO_INVOICE = strawberry.enum_value(
        "APPLIED_TO_INVOICE",
        description="An invoice used the balance at finalization (credit taken, or a carried "
        "debt added).",
    )
    INVOICE_CREDIT = strawberry.enum_value(
        "INVOICE_CREDIT", description="An invoice whose total was below zero credited the customer."
    )
    INVOICE_TOO_SMALL = strawberry.enum_value(
        "INVOICE_TOO_SMALL",
        description="An invoice whose amount due was below the currency's minimum charge was "
        "carried to the balance.",
    )


@strawberry.enum
class DunningSubscriptionAction(Enum):
    CANCEL = "CANCEL"
    MARK_UNPAID = "MARK_UNPAID"
    LEAVE_PAST_DUE = "LEAVE_PAST_DUE"


@strawberry.enum
class DunningInvoiceAction(Enum):
    LEAVE_OPEN = "LEAVE_OPEN"
    MARK_UNCOLLECTIBLE = "MARK_UNCOLLECTIBLE"
