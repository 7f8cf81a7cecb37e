import { useState, type FormEvent } from "react";
import { ApiError, request } from "../api";
import { signIn } from "../auth";
import { graphql } from "../gql";

const Check = graphql(`
  query SignInCheck {
    customers(first: 1) {
      pageInfo {
        hasNextPage
      }
    }
  }
`);

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request(Check, {}, key.trim());
      signIn(key);
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" className="signin">
      <h1>Sign in to meterbill</h1>
      <form onSubmit={submit}>
        <label htmlFor="key">Secret API key (READ or ADMIN)</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          placeholder="mb_sk_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby={error ? "signin-error" : "key-help"}
        />
        <p id="key-help" className="help">
          Kept in this browser tab only; closing the tab signs you out.
        </p>
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error && (
          <p id="signin-error" role="alert" className="problem">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
