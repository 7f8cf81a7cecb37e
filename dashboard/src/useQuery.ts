import { useCallback, useEffect, useState } from "react";
import { ApiError, request } from "./api";
import type { TypedDocumentString } from "./gql/graphql";

export interface QueryState<R> {
  data: R | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

export function useQuery<R, V>(doc: TypedDocumentString<R, V>, variables: V): QueryState<R> {
  const [data, setData] = useState<R | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const vars = JSON.stringify(variables);
  useEffect(() => {
    let live = true;
    setLoading(true);
    request(doc, JSON.parse(vars) as V)
      .then((d) => live && (setData(d), setError(null)))
      .catch((e: unknown) => {
        if (!live) return;
        setError(e instanceof ApiError ? e : new ApiError("other", String(e)));
      })
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [doc, vars, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
