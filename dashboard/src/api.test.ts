import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, request } from "./api";
import type { TypedDocumentString } from "./gql/graphql";

const DOC = "query { apiKeys { id } }" as unknown as TypedDocumentString<unknown, Record<string, never>>;

function answer(status: number, body: unknown): void {
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })),
  );
}

async function failure(): Promise<ApiError> {
  try {
    await request(DOC, {}, "mb_sk_test");
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("request did not fail");
}

afterEach(() => vi.unstubAllGlobals());

describe("request", () => {
  it("sends the key as a bearer header, never in the URL", async () => {
    answer(200, { data: { apiKeys: [] } });
    await expect(request(DOC, {}, "mb_sk_test")).resolves.toEqual({ apiKeys: [] });
    const [url, init] = vi.mocked(fetch).mock.calls[0];
    expect(url).toBe("/graphql");
    expect((init?.headers as Record<string, string>).authorization).toBe("Bearer mb_sk_test");
  });

  it.each([
    [401, "UNAUTHENTICATED", "auth"],
    [200, "FORBIDDEN", "auth"],
    [503, "UNAVAILABLE", "down"],
    [200, "UNAVAILABLE", "down"],
    [429, "RATE_LIMITED", "other"],
    [200, "BAD_USER_INPUT", "other"],
  ])("HTTP %s with %s is a %s failure", async (status, code, kind) => {
    answer(status, { data: null, errors: [{ message: `said ${code}`, extensions: { code } }] });
    const e = await failure();
    expect(e.kind).toBe(kind);
    if (kind === "other") expect(e.message).toBe(`said ${code}`);
  });

  it("is 'down' when the server cannot be reached or answers garbage", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    expect((await failure()).kind).toBe("down");
    vi.stubGlobal("fetch", vi.fn(async () => new Response("<html>bad gateway</html>", { status: 200 })));
    expect((await failure()).kind).toBe("down");
  });
});
