import { describe, expect, it } from "vitest";
import { exponent, formatDateTime, formatMoney } from "./money";

describe("formatMoney", () => {
  it.each([
    [18000, "usd", "180.00 USD"],
    [5, "usd", "0.05 USD"],
    [0, "eur", "0.00 EUR"],
    [-387, "usd", "-3.87 USD"],
    [1234, "jpy", "1234 JPY"],
    [1234, "kwd", "1.234 KWD"],
    [7, "bhd", "0.007 BHD"],
  ])("%s %s -> %s", (minor, currency, want) => {
    expect(formatMoney(minor, currency)).toBe(want);
  });

  it("keeps amounts beyond 2^53 exact (BigInt scalars arrive as strings)", () => {
    expect(formatMoney("900719925474099317", "usd")).toBe("9007199254740993.17 USD");
  });

  it("shows a dash for a missing amount", () => {
    expect(formatMoney(null, "usd")).toBe("—");
    expect(formatMoney(undefined, "usd")).toBe("—");
  });

  it("knows the ISO 4217 exponents it lists and defaults to 2", () => {
    expect([exponent("JPY"), exponent("usd"), exponent("OMR")]).toEqual([0, 2, 3]);
  });
});

describe("formatDateTime", () => {
  it("shows UTC to the second", () => {
    expect(formatDateTime("2026-01-31T23:59:30.123456Z")).toBe("2026-01-31 23:59:30 UTC");
    expect(formatDateTime(null)).toBe("—");
  });
});
