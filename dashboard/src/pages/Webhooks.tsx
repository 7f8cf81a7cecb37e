import { useState } from "react";
import { graphql } from "../gql";
import type { WebhookDeliveryStatus } from "../gql/graphql";
import { formatDateTime } from "../money";
import { href } from "../router";
import { Badge, Loading, Problem, StatusFilter } from "../Status";
import { useQuery } from "../useQuery";

const STATUSES: WebhookDeliveryStatus[] = ["PENDING", "SUCCEEDED", "FAILED"];

const Endpoints = graphql(`
  query DashboardWebhookEndpoints {
    webhookEndpoints {
      id
      url
      description
      enabledEvents
      status
      createdAt
    }
  }
`);

const Deliveries = graphql(`
  query DashboardWebhookDeliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $after: String) {
    webhookDeliveries(endpointId: $endpointId, status: $status, first: 50, after: $after) {
      edges {
        node {
          id
          status
          attemptCount
          lastAttemptAt
          nextAttemptAt
          lastResponseStatus
          lastError
          event {
            id
            type
            objectId
            createdAt
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

export function WebhooksPage() {
  const { data, error, loading } = useQuery(Endpoints, {});
  if (error) return <Problem error={error} />;
  if (loading && !data) return <Loading />;
  const rows = data?.webhookEndpoints ?? [];
  return (
    <>
      <h1>Webhooks</h1>
      {rows.length === 0 ? (
        <p>No webhook endpoints.</p>
      ) : (
        <table>
          <caption>Webhook endpoints</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Status</th>
              <th scope="col">Events</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.id}>
                <td>
                  <a href={href("webhooks", e.id)}>{e.url}</a>
                  {e.description && <div className="muted">{e.description}</div>}
                </td>
                <td>
                  <Badge value={e.status} />
                </td>
                <td>{e.enabledEvents.join(", ")}</td>
                <td>{formatDateTime(e.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function DeliveriesPage({ endpointId, status }: { endpointId: string; status: string | null }) {
  const chosen = STATUSES.find((s) => s === status) ?? null;
  const [after, setAfter] = useState<string | null>(null);
  const endpoints = useQuery(Endpoints, {});
  const { data, error, loading } = useQuery(Deliveries, { endpointId, status: chosen, after });
  const endpoint = endpoints.data?.webhookEndpoints.find((e) => e.id === endpointId);
  const base = href("webhooks", endpointId);
  return (
    <>
      <h1>Deliveries</h1>
      <p>
        <a href={href("webhooks")}>All endpoints</a>
        {endpoint && (
          <>
            {" · "}
            <span className="url">{endpoint.url}</span> <Badge value={endpoint.status} />
          </>
        )}
      </p>
      <StatusFilter id="delivery-status" base={base} statuses={STATUSES} chosen={chosen} onChange={() => setAfter(null)} />
      {error && <Problem error={error} />}
      {loading && !data && <Loading />}
      {data && data.webhookDeliveries.edges.length === 0 && <p>No deliveries.</p>}
      {data && data.webhookDeliveries.edges.length > 0 && (
        <>
          <table>
            <caption>{chosen ? `${chosen} deliveries` : "Deliveries"}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Object</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Last attempt</th>
                <th scope="col" className="num">
                  Response
                </th>
                <th scope="col">Last error</th>
                <th scope="col">Next attempt</th>
              </tr>
            </thead>
            <tbody>
              {data.webhookDeliveries.edges.map(({ node: d }) => (
                <tr key={d.id}>
                  <td>
                    {d.event.type}
                    <div className="muted">{d.event.id}</div>
                  </td>
                  <td>{d.event.objectId}</td>
                  <td>
                    <Badge value={d.status} />
                  </td>
                  <td className="num">{d.attemptCount}</td>
                  <td>{formatDateTime(d.lastAttemptAt)}</td>
                  <td className="num">{d.lastResponseStatus ?? "—"}</td>
                  <td>{d.lastError ?? "—"}</td>
                  <td>{formatDateTime(d.nextAttemptAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.webhookDeliveries.pageInfo.hasNextPage && (
            <button type="button" onClick={() => setAfter(data.webhookDeliveries.pageInfo.endCursor ?? null)}>
              Older deliveries
            </button>
          )}
        </>
      )}
    </>
  );
}
