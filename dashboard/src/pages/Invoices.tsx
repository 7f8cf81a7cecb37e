import { useState } from "react";
import { graphql } from "../gql";
import type { InvoiceStatus } from "../gql/graphql";
import { formatDate, formatMoney } from "../money";
import { href } from "../router";
import { Badge, Loading, Problem, StatusFilter } from "../Status";
import { useQuery } from "../useQuery";

const STATUSES: InvoiceStatus[] = ["DRAFT", "OPEN", "PAID", "UNCOLLECTIBLE", "VOID"];

const Invoices = graphql(`
  query DashboardInvoices($status: InvoiceStatus, $after: String) {
    invoices(first: 50, status: $status, after: $after) {
      edges {
        node {
          id
          number
          status
          currency
          total
          createdAt
          customer {
            id
            name
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export function InvoicesPage({ status }: { status: string | null }) {
  const chosen = STATUSES.find((s) => s === status) ?? null;
  const [after, setAfter] = useState<string | null>(null);
  const { data, error, loading } = useQuery(Invoices, { status: chosen, after });
  return (
    <>
      <h1>Invoices</h1>
      <StatusFilter id="invoice-status" base="#/invoices" statuses={STATUSES} chosen={chosen} onChange={() => setAfter(null)} />
      {error && <Problem error={error} />}
      {loading && !data && <Loading />}
      {data && (
        <>
          <InvoiceTable
            rows={data.invoices.edges.map(({ node }) => node)}
            caption={chosen ? `${chosen} invoices` : "All invoices"}
            showCustomer
          />
          {data.invoices.pageInfo.hasNextPage && (
            <button type="button" onClick={() => setAfter(data.invoices.pageInfo.endCursor ?? null)}>
              Older invoices
            </button>
          )}
        </>
      )}
    </>
  );
}

interface Row {
  id?: string | null;
  number?: string | null;
  status: string;
  currency: string;
  total: number;
  createdAt: string;
  customer?: { id: string; name?: string | null };
}

export function InvoiceTable({ rows, caption, showCustomer }: { rows: Row[]; caption: string; showCustomer?: boolean }) {
  if (rows.length === 0) return <p>No invoices.</p>;
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Number</th>
          {showCustomer && <th scope="col">Customer</th>}
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Total
          </th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id ?? r.createdAt}>
            <td>{r.id ? <a href={href("invoices", r.id)}>{r.number ?? "Draft"}</a> : (r.number ?? "Draft")}</td>
            {showCustomer && (
              <td>{r.customer ? <a href={href("customers", r.customer.id)}>{r.customer.name || r.customer.id}</a> : "—"}</td>
            )}
            <td>
              <Badge value={r.status} />
            </td>
            <td className="num">{formatMoney(r.total, r.currency)}</td>
            <td>{formatDate(r.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
