"""Reading what subscriptions bill: their items, prices, tiers, products and meters in ONE
joined statement for any number of subscriptions (plain rows, no ORM objects: a batch reads
thousands). The backends differ only in how parameters are written."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from tortoise import connections

# One row per (subscription, item, tier): a subscription without items still has a row, an
# untiered price has one row with null tier columns. Identifiers are quoted: "interval" and
# "position" are keywords to some SQL dialects.
_SELECT = """SELECT s.id AS s_id, s.account_id AS s_account_id, s.customer_id AS s_customer_id,
 s.test_clock_id AS s_test_clock_id, s.status AS s_status, s.currency AS s_currency,
 s."interval" AS s_interval, s.interval_count AS s_interval_count,
 s.billing_cycle_anchor AS s_anchor, s.current_period_start AS s_start,
 s.current_period_end AS s_end, s.cancel_at_period_end AS s_cancel_at_end,
 c.frozen_time AS c_frozen_time,
 i.id AS i_id, i.price_id AS i_price_id, i.quantity AS i_quantity, i."position" AS i_position,
 i.usage_from AS i_usage_from,
 p.account_id AS p_account_id, p.product_id AS p_product_id, p.currency AS p_currency,
 p.billing_scheme AS p_billing_scheme, p.unit_amount_decimal AS p_unit_amount_decimal,
 p.tiers_mode AS p_tiers_mode, p.transform_divide_by AS p_transform_divide_by,
 p.transform_round AS p_transform_round, p."interval" AS p_interval,
 p.interval_count AS p_interval_count, p.usage_type AS p_usage_type, p.meter_id AS p_meter_id,
 pr.name AS pr_name, m.account_id AS m_account_id, m.aggregation AS m_aggregation,
 t."position" AS t_position, t.up_to AS t_up_to, t.unit_amount_decimal AS t_unit_amount_decimal,
 t.flat_amount_decimal AS t_flat_amount_decimal{extra}
FROM subscriptions s
LEFT JOIN test_clocks c ON c.id = s.test_clock_id
LEFT JOIN subscription_items i ON i.subscription_id = s.id
LEFT JOIN prices p ON p.id = i.price_id
LEFT JOIN products pr ON pr.id = p.product_id
LEFT JOIN meters m ON m.id = p.meter_id
LEFT JOIN price_tiers t ON t.price_id = p.id
WHERE {where}
ORDER BY s.id, i."position", i.id, t."position\""""

# What an invoice preview reads besides the plan: unbilled prorations and the balance.
_HOLDINGS = (
    ",\n EXISTS (SELECT 1 FROM pending_items pi WHERE pi.subscription_id = s.id"
    " AND pi.invoice_id IS NULL) AS s_has_pending,\n"
    " (SELECT cu.balance FROM customers cu WHERE cu.id = s.customer_id) AS s_balance,\n"
    " (SELECT cu.balance_currency FROM customers cu WHERE cu.id = s.customer_id)"
    " AS s_balance_currency"
)

Row = dict[str, Any]


class PlanStore(ABC):
    async def rows(
        self, subscription_ids: Sequence[str], account_id: str | None, preview: bool
    ) -> dict[str, list[Row]]:
        """The joined rows (columns s_*, c_*, i_*, p_*, pr_*, m_*, t_*) of each subscription
        found, ordered by item then tier; `account_id` keeps only that account's; `preview`
        adds s_has_pending, s_balance and s_balance_currency."""
        params: list[Any] = list(subscription_ids)
        where = f"s.id IN ({', '.join(self._mark(n) for n in range(1, len(params) + 1))})"
        if account_id is not None:
            params.append(account_id)
            where += f" AND s.account_id = {self._mark(len(params))}"
        sql = _SELECT.format(extra=_HOLDINGS if preview else "", where=where)
        grouped: dict[str, list[Row]] = {}
        for r in await connections.get("default").execute_query_dict(sql, params):
            grouped.setdefault(r["s_id"], []).append(r)
        return grouped

    @staticmethod
    @abstractmethod
    def _mark(n: int) -> str:
        """The n-th (1-based) parameter's placeholder."""


class PostgresPlans(PlanStore):
    @staticmethod
    def _mark(n: int) -> str:
        return f"${n}"


class SqlitePlans(PlanStore):
    @staticmethod
    def _mark(n: int) -> str:
        return "?"
