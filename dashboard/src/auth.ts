// The secret key lives in this tab's sessionStorage only: never in the address (a key given
// as /dashboard#key=... is taken and removed at once), never in a log or a URL we request.
const STORE = "meterbill.key";

export function takeKeyFromAddress(): void {
  const match = /^#key=([^&]*)/.exec(window.location.hash);
  if (!match) return;
  const key = decodeURIComponent(match[1]).trim();
  if (key) sessionStorage.setItem(STORE, key);
  window.history.replaceState(null, "", window.location.pathname + "#/customers");
}

export function currentKey(): string | null {
  return sessionStorage.getItem(STORE);
}

export function signIn(key: string): void {
  sessionStorage.setItem(STORE, key.trim());
}

export function signOut(): void {
  sessionStorage.removeItem(STORE);
}
