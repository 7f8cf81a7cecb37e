import { describe, expect, it } from "vitest";
import { dayAligned } from "./UsageChart";

describe("dayAligned", () => {
  it("covers a period with whole UTC days", () => {
    expect(dayAligned("2026-01-15T12:30:00Z", "2026-02-15T12:30:00Z")).toEqual({
      start: "2026-01-15T00:00:00.000Z",
      end: "2026-02-16T00:00:00.000Z",
    });
  });

  it("keeps a period that is already day-aligned", () => {
    expect(dayAligned("2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z")).toEqual({
      start: "2028-02-01T00:00:00.000Z",
      end: "2028-03-01T00:00:00.000Z",
    });
  });
});
