import { useCallback, useEffect, useState } from "react";
import { graphql } from "../gql";
import { formatDate, formatMoney } from "../money";
import { Badge, Loading, Problem } from "../Status";
import { useQuery } from "../useQuery";
import { InvoiceTable } from "./Invoices";
import { UsageChart } from "./UsageChart";

const CustomerQuery = graphql(`
  query DashboardCustomer($id: ID!) {
    customer(id: $id) {
      id
      name
      email
      externalId
      defaultPaymentMethod
      createdAt
      testClock {
        id
        frozenTime
      }
    }
    subscriptions(customerId: $id, first: 20) {
      edges {
        node {
          id
          status
          currency
          currentPeriodStart
          currentPeriodEnd
          cancelAtPeriodEnd
          items {
            id
            quantity
            price {
              id
              nickname
              product {
                name
              }
              recurring {
                usageType
                meter {
                  id
                  displayName
                }
              }
            }
          }
        }
      }
    }
    invoices(customerId: $id, first: 100) {
      edges {
        node {
          id
          number
          status
          currency
          total
          createdAt
        }
      }
    }
  }
`);

const Upcoming = graphql(`
  query DashboardUpcoming($subscriptionId: ID!) {
    upcomingInvoice(subscriptionId: $subscriptionId) {
      currency
      total
      periodStart
      periodEnd
      lines {
        description
        amount
      }
    }
  }
`);

const LIVE = new Set(["ACTIVE", "PAST_DUE", "TRIALING"]);

export function CustomerPage({ id }: { id: string }) {
  const { data, error, loading } = useQuery(CustomerQuery, { id });
  if (error) return <Problem error={error} />;
  if (loading && !data) return <Loading />;
  const c = data?.customer;
  if (!data || !c) return <p role="alert">No customer {id}.</p>;
  const subs = data.subscriptions.edges.map((e) => e.node);
  return (
    <>
      <h1>{c.name || c.id}</h1>
      <dl className="facts">
        <dt>ID</dt>
        <dd>{c.id}</dd>
        <dt>Email</dt>
        <dd>{c.email ?? "—"}</dd>
        <dt>External ID</dt>
        <dd>{c.externalId ?? "—"}</dd>
        <dt>Payment method</dt>
        <dd>{c.defaultPaymentMethod ?? "none"}</dd>
        {c.testClock && (
          <>
            <dt>Test clock</dt>
            <dd>{c.testClock.frozenTime}</dd>
          </>
        )}
      </dl>
      <h2>Subscriptions</h2>
      {subs.length === 0 && <p>No subscriptions.</p>}
      {subs.map((s) => (
        <SubscriptionCard key={s.id} sub={s} customerId={c.id} now={c.testClock?.frozenTime ?? new Date().toISOString()} />
      ))}
      <h2>Invoices</h2>
      <InvoiceTable rows={data.invoices.edges.map((e) => e.node)} caption="Invoices of this customer, newest first" />
    </>
  );
}


interface SubProps {
  sub: {
    id: string;
    status: string;
    currency: string;
    currentPeriodStart: string;
    currentPeriodEnd: string;
    cancelAtPeriodEnd: boolean;
    items: {
      id: string;
      quantity: number;
      price: {
        id: string;
        nickname?: string | null;
        product: { name: string };
        recurring: { usageType: string; meter?: { id: string; displayName: string } | null };
      };
    }[];
  };
  customerId: string;
  now: string;
}

function SubscriptionCard({ sub, customerId, now }: SubProps) {
  const live = LIVE.has(sub.status);
  // Bumped by every live usage message after the first: the upcoming invoice is re-read.
  const [changes, setChanges] = useState(0);
  const changed = useCallback(() => setChanges((n) => n + 1), []);
  const meters = sub.items.flatMap((i) => (i.price.recurring.meter ? [i.price.recurring.meter] : []));
  return (
    <article className="card" aria-labelledby={`sub-${sub.id}`}>
      <h3 id={`sub-${sub.id}`}>
        Subscription {sub.id} <Badge value={sub.status} />
      </h3>
      <p>
        Current period {formatDate(sub.currentPeriodStart)} – {formatDate(sub.currentPeriodEnd)}
        {sub.cancelAtPeriodEnd && " · cancels at period end"}
      </p>
      <ul>
        {sub.items.map((i) => (
          <li key={i.id}>
            {i.price.nickname || i.price.product.name} ({i.price.recurring.usageType.toLowerCase()}
            {i.price.recurring.usageType === "LICENSED" ? ` × ${i.quantity}` : ""})
          </li>
        ))}
      </ul>
      {live && <UpcomingInvoice subscriptionId={sub.id} changes={changes} />}
      {live &&
        meters.map((m) => (
          <UsageChart
            key={m.id}
            meterId={m.id}
            meterName={m.displayName}
            customerId={customerId}
            periodStart={sub.currentPeriodStart}
            periodEnd={sub.currentPeriodEnd}
            until={now}
            onChange={changed}
          />
        ))}
    </article>
  );
}

function UpcomingInvoice({ subscriptionId, changes }: { subscriptionId: string; changes: number }) {
  const { data, error, reload } = useQuery(Upcoming, { subscriptionId });
  useEffect(() => {
    if (changes) reload();
  }, [changes, reload]);
  if (error) return <Problem error={error} />;
  const up = data?.upcomingInvoice;
  if (!up) return null;
  return (
    <section aria-label="Upcoming invoice" className="upcoming">
      <h4>Upcoming invoice</h4>
      <p>
        <span data-testid="upcoming-total">{formatMoney(up.total, up.currency)}</span> at{" "}
        {formatDate(up.periodEnd)}
      </p>
      <ul>
        {up.lines.map((l, i) => (
          <li key={i}>
            {l.description}: {formatMoney(l.amount, up.currency)}
          </li>
        ))}
      </ul>
    </section>
  );
}
