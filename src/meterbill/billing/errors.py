"""Domain errors. Services raise these; graphql/errors.py maps them to userErrors or
GraphQL errors in one place. Codes are the contract's UserErrorCode values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field


@dataclass(frozen=True)
class FieldError:
    code: str  # INVALID, REQUIRED, NOT_FOUND, ALREADY_EXISTS, INACTIVE, OUT_OF_RANGE, ...
    message: str
    field: tuple[str, ...] | None = None

    def under(self, *prefix: str) -> FieldError:
        """The same error with its path nested under `prefix` (e.g. ("input", "tiers", "1"))."""
        return FieldError(self.code, self.message, tuple(prefix) + (self.field or ()))


class DomainError(Exception):
    """A caller's mistake: becomes userErrors on mutations."""

    def __init__(self, errors: Sequence[FieldError]):
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(e.message for e in self.errors))

    @classmethod
    def one(cls, code: str, message: str, *field: str) -> DomainError:
        return cls([FieldError(code, message, tuple(field) or None)])


def invalid(message: str, *field: str) -> DomainError:
    return DomainError.one("INVALID", message, *field)


def required(message: str, *field: str) -> DomainError:
    return DomainError.one("REQUIRED", message, *field)


def not_found(message: str, *field: str) -> DomainError:
    return DomainError.one("NOT_FOUND", message, *field)


def conflict(message: str, *field: str) -> DomainError:
    return DomainError.one("CONFLICT", message, *field)


@dataclass
class BadUserInput(Exception):
    """A caller's mistake on a query (or a limit): a top-level GraphQL error BAD_USER_INPUT."""

    message: str
    field: tuple[str, ...] = dc_field(default_factory=tuple)

    def __str__(self) -> str:
        return self.message
