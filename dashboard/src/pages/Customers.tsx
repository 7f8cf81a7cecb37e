import { useEffect, useState } from "react";
import { graphql } from "../gql";
import { href } from "../router";
import { Loading, Problem } from "../Status";
import { useQuery } from "../useQuery";
import { formatDate } from "../money";

const Customers = graphql(`
  query DashboardCustomers($search: String, $after: String) {
    customers(first: 50, search: $search, after: $after) {
      edges {
        node {
          id
          name
          email
          externalId
          createdAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export function CustomersPage({ search }: { search: string }) {
  const [text, setText] = useState(search);
  const [after, setAfter] = useState<string | null>(null);
  useEffect(() => setText(search), [search]);
  useEffect(() => setAfter(null), [search]);
  const { data, error, loading } = useQuery(Customers, { search: search || null, after });
  return (
    <>
      <h1>Customers</h1>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          window.location.hash = `#/customers?search=${encodeURIComponent(text.trim())}`;
        }}
      >
        <label htmlFor="customer-search">Search by name, email or external ID</label>
        <input id="customer-search" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Search</button>
      </form>
      {error && <Problem error={error} />}
      {loading && !data && <Loading />}
      {data && (
        <>
          <table>
            <caption className="sr-only">Customers, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">External ID</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.customers.edges.map(({ node }) => (
                <tr key={node.id}>
                  <td>
                    <a href={href("customers", node.id)}>{node.name || node.id}</a>
                  </td>
                  <td>{node.email ?? "—"}</td>
                  <td>{node.externalId ?? "—"}</td>
                  <td>{formatDate(node.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.customers.edges.length === 0 && <p>No customers match.</p>}
          {data.customers.pageInfo.hasNextPage && (
            <button type="button" onClick={() => setAfter(data.customers.pageInfo.endCursor ?? null)}>
              Older customers
            </button>
          )}
        </>
      )}
    </>
  );
}
