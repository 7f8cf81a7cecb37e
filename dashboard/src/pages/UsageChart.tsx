import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { subscribe } from "../api";
import { graphql } from "../gql";
import { Problem } from "../Status";
import { useQuery } from "../useQuery";

const Summaries = graphql(`
  query DashboardUsage($meterId: ID!, $customerId: ID!, $start: DateTime!, $end: DateTime!) {
    meterEventSummaries(
      meterId: $meterId
      customerId: $customerId
      startTime: $start
      endTime: $end
      valueGroupingWindow: DAY
    ) {
      startTime
      aggregatedValue
    }
  }
`);

const LiveUsage = graphql(`
  subscription DashboardLiveUsage($meterId: ID!, $customerId: ID!) {
    usage(meterId: $meterId, customerId: $customerId) {
      value
      updatedAt
    }
  }
`);

const DAY = 86_400_000;

// DAY windows start at 00:00 UTC: the days that cover the period.
export function dayAligned(start: string, end: string): { start: string; end: string } {
  const s = Math.floor(Date.parse(start) / DAY) * DAY;
  const e = Math.ceil(Date.parse(end) / DAY) * DAY;
  return { start: new Date(s).toISOString(), end: new Date(e).toISOString() };
}

interface Props {
  meterId: string;
  meterName: string;
  customerId: string;
  periodStart: string;
  periodEnd: string;
  // The customer's now (its test clock's time, if any): the chart stops there.
  until: string;
  onChange?: () => void;
}

export function UsageChart({ meterId, meterName, customerId, periodStart, periodEnd, until, onChange }: Props) {
  const range = dayAligned(periodStart, periodEnd);
  const { data, error, reload } = useQuery(Summaries, { meterId, customerId, ...range });
  const [value, setValue] = useState<string | null>(null);
  const [liveProblem, setLiveProblem] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    let first = true;
    return subscribe(
      LiveUsage,
      { meterId, customerId },
      (d) => {
        setLiveProblem(null);
        setValue(d.usage.value);
        if (!first) {
          reload(); // the days behind the total changed too
          onChange?.();
        }
        first = false;
      },
      setLiveProblem,
    );
  }, [meterId, customerId, reload, onChange]);

  useEffect(() => {
    if (!box.current || !data) return;
    const xs: number[] = [];
    const ys: number[] = [];
    let total = 0;
    const last = Date.parse(until);
    for (const row of data.meterEventSummaries) {
      if (Date.parse(row.startTime) > last) break;
      // Display only: the exact figure is the text above, from the server's Decimal.
      total += Number(row.aggregatedValue);
      xs.push(Date.parse(row.startTime) / 1000);
      ys.push(total);
    }
    const series: uPlot.AlignedData = [xs, ys];
    if (plot.current) {
      plot.current.setData(series);
      return;
    }
    plot.current = new uPlot(
      {
        width: Math.min(720, box.current.clientWidth || 720),
        height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        series: [{}, { label: meterName, stroke: "#2456a6", fill: "rgba(36,86,166,0.12)", width: 2 }],
        axes: [{}, { size: 70 }],
        legend: { show: false },
      },
      series,
      box.current,
    );
  }, [data, meterName, until]);

  useEffect(
    () => () => {
      plot.current?.destroy();
      plot.current = null;
    },
    [],
  );

  const headingId = `usage-${meterId}`;
  return (
    <section aria-labelledby={headingId} className="usage">
      <h3 id={headingId}>{meterName}</h3>
      <p aria-live="polite">
        Usage this period: <strong data-testid="usage-value">{value ?? "…"}</strong>
      </p>
      {liveProblem && <p role="alert" className="problem">{liveProblem}</p>}
      {error && <Problem error={error} />}
      <div
        ref={box}
        role="img"
        aria-label={`Cumulative ${meterName} usage per day from ${range.start.slice(0, 10)}`}
        className="chart"
      />
    </section>
  );
}
