import type { ApiError } from "./api";
import { signOut } from "./auth";

export function Problem({ error }: { error: ApiError }) {
  return (
    <div role="alert" className={`problem problem-${error.kind}`}>
      <p>{error.message}</p>
      {error.kind === "auth" && (
        <button
          type="button"
          onClick={() => {
            signOut();
            window.location.reload();
          }}
        >
          Sign in with another key
        </button>
      )}
    </div>
  );
}

export function Loading() {
  return (
    <p role="status" aria-live="polite">
      Loading…
    </p>
  );
}

export function Badge({ value }: { value: string }) {
  return <span className={`badge badge-${value.toLowerCase()}`}>{value.replace(/_/g, " ")}</span>;
}
