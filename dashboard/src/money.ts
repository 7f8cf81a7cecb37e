// Minor units -> "180.00 USD", by the currency's exponent (ISO 4217), in integer arithmetic:
// amounts are integers of minor units and never pass through floating point division.
const EXPONENTS: Record<string, number> = {
  bif: 0, clp: 0, djf: 0, gnf: 0, isk: 0, jpy: 0, kmf: 0, krw: 0, pyg: 0, rwf: 0, ugx: 0,
  vnd: 0, vuv: 0, xaf: 0, xof: 0, xpf: 0,
  bhd: 3, iqd: 3, jod: 3, kwd: 3, lyd: 3, omr: 3, tnd: 3,
};

export function exponent(currency: string): number {
  return EXPONENTS[currency.toLowerCase()] ?? 2;
}

export function formatMoney(minor: number | string | null | undefined, currency: string): string {
  if (minor === null || minor === undefined) return "—";
  const digits = BigInt(minor);
  const negative = digits < 0n;
  const abs = (negative ? -digits : digits).toString();
  const exp = exponent(currency);
  const padded = abs.padStart(exp + 1, "0");
  const whole = padded.slice(0, padded.length - exp) || "0";
  const frac = exp ? "." + padded.slice(padded.length - exp) : "";
  return `${negative ? "-" : ""}${whole}${frac} ${currency.toUpperCase()}`;
}

export function formatDate(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : "—";
}

// "2026-01-31 23:59:30 UTC": deliveries are minutes apart, a date alone would hide that.
export function formatDateTime(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : "—";
}
