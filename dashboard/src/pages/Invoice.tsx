import { graphql } from "../gql";
import { formatDate, formatMoney } from "../money";
import { href } from "../router";
import { Badge, Loading, Problem } from "../Status";
import { useQuery } from "../useQuery";

const Invoice = graphql(`
  query DashboardInvoice($id: ID!) {
    invoice(id: $id) {
      id
      number
      status
      billingReason
      currency
      periodStart
      periodEnd
      subtotal
      total
      amountDue
      amountPaid
      finalizedAt
      paidAt
      dueDate
      customer {
        id
        name
      }
      lines {
        id
        type
        description
        quantity
        amount
        periodStart
        periodEnd
      }
    }
  }
`);

export function InvoicePage({ id }: { id: string }) {
  const { data, error, loading } = useQuery(Invoice, { id });
  if (error) return <Problem error={error} />;
  if (loading && !data) return <Loading />;
  const inv = data?.invoice;
  if (!inv) return <p role="alert">No invoice {id}.</p>;
  return (
    <>
      <h1>
        Invoice {inv.number ?? "(draft)"} <Badge value={inv.status} />
      </h1>
      <dl className="facts">
        <dt>Customer</dt>
        <dd>
          <a href={href("customers", inv.customer.id)}>{inv.customer.name || inv.customer.id}</a>
        </dd>
        <dt>Period</dt>
        <dd>
          {formatDate(inv.periodStart)} – {formatDate(inv.periodEnd)}
        </dd>
        <dt>Reason</dt>
        <dd>{inv.billingReason.replace(/_/g, " ").toLowerCase()}</dd>
        <dt>Total</dt>
        <dd data-testid="invoice-total">{formatMoney(inv.total, inv.currency)}</dd>
        <dt>Amount due</dt>
        <dd>{formatMoney(inv.amountDue, inv.currency)}</dd>
        <dt>Paid</dt>
        <dd>{formatMoney(inv.amountPaid, inv.currency)}</dd>
      </dl>
      <table>
        <caption>Lines</caption>
        <thead>
          <tr>
            <th scope="col">Description</th>
            <th scope="col">Period</th>
            <th scope="col" className="num">
              Quantity
            </th>
            <th scope="col" className="num">
              Amount
            </th>
          </tr>
        </thead>
        <tbody>
          {inv.lines.map((l, i) => (
            <tr key={l.id ?? i}>
              <td>{l.description}</td>
              <td>
                {formatDate(l.periodStart)} – {formatDate(l.periodEnd)}
              </td>
              <td className="num">{l.quantity}</td>
              <td className="num">{formatMoney(l.amount, inv.currency)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total
            </th>
            <td className="num">{formatMoney(inv.total, inv.currency)}</td>
          </tr>
        </tfoot>
      </table>
    </>
  );
}
