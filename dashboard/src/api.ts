import { createClient, type Client } from "graphql-ws";
import { currentKey } from "./auth";
import type { TypedDocumentString } from "./gql/graphql";

export type Failure = "auth" | "down" | "other";

export class ApiError extends Error {
  constructor(
    readonly kind: Failure,
    message: string,
  ) {
    super(message);
  }
}

const DOWN = "The meterbill server cannot be reached. Check that it is running, then retry.";
const BAD_KEY = "This key was not accepted. Check it, or sign in with another key.";

function authHeader(key: string | null): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

export async function request<R, V>(
  doc: TypedDocumentString<R, V>,
  variables: V,
  key: string | null = currentKey(),
): Promise<R> {
  let res: Response;
  try {
    res = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeader(key) },
      body: JSON.stringify({ query: doc.toString(), variables }),
    });
  } catch {
    throw new ApiError("down", DOWN);
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) {
    throw new ApiError("down", DOWN);
  }
  let body: { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await res.json();
  } catch {
    throw new ApiError("down", DOWN);
  }
  const first = body.errors?.[0];
  if (first) {
    const code = first.extensions?.code;
    if (code === "UNAUTHENTICATED" || code === "FORBIDDEN") throw new ApiError("auth", BAD_KEY);
    if (code === "UNAVAILABLE") throw new ApiError("down", DOWN);
    throw new ApiError("other", first.message);
  }
  if (!body.data) throw new ApiError("other", `unexpected answer (HTTP ${res.status})`);
  return body.data;
}

let client: Client | null = null;
let clientKey: string | null = null;

// One graphql-transport-ws connection per tab, authenticated by connection_init.
export function live(): Client {
  const key = currentKey();
  if (!client || clientKey !== key) {
    void client?.dispose();
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    client = createClient({
      url: `${scheme}//${window.location.host}/graphql`,
      connectionParams: () => authHeader(currentKey()),
      lazy: true,
      retryAttempts: 1000,
      shouldRetry: (e) => !(e instanceof CloseEvent && e.code === 4403),
    });
    clientKey = key;
  }
  return client;
}

export function subscribe<R, V>(
  doc: TypedDocumentString<R, V>,
  variables: V,
  onData: (data: R) => void,
  onError: (message: string) => void,
): () => void {
  return live().subscribe<R>(
    { query: doc.toString(), variables: variables as Record<string, unknown> },
    {
      next: (msg) => {
        if (msg.data) onData(msg.data);
        else if (msg.errors?.[0]) onError(msg.errors[0].message);
      },
      error: (e) => {
        const closed = e instanceof CloseEvent;
        onError(closed && e.code === 4403 ? BAD_KEY : "Live updates paused: " + DOWN);
      },
      complete: () => undefined,
    },
  );
}
