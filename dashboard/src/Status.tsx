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

// A status filter that lives in the address (#/BASE?status=X): choosing one navigates there,
// so the filtered page can be linked and reloaded.
export function StatusFilter<S extends string>(props: {
  id: string;
  base: string;
  statuses: readonly S[];
  chosen: S | null;
  onChange?: () => void;
}) {
  const { id, base, statuses, chosen, onChange } = props;
  return (
    <form onSubmit={(e) => e.preventDefault()}>
      <label htmlFor={id}>Status</label>
      <select
        id={id}
        value={chosen ?? ""}
        onChange={(e) => {
          onChange?.();
          window.location.hash = e.target.value ? `${base}?status=${e.target.value}` : base;
        }}
      >
        <option value="">All</option>
        {statuses.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </form>
  );
}
