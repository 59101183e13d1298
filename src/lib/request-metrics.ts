import type { Metric, Registry } from "prom-client";

type Series = {
  labels: { method: string; route: string; status: string };
  count: number;
  sum: number;
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  buckets: number[];
};

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * `http_requests_total` and `http_request_duration_seconds`, kept as plain numbers per
 * (method, route, status) and turned into samples only when Prometheus scrapes. prom-client
 * hashes the label set on every `inc` and `observe`, even through a bound child: for a cached
 * product read that was the largest share of the request's own JavaScript.
 */
export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry) {
    registry.registerMetric(
      this.metric(
        "http_requests_total",
        "HTTP requests answered, by route pattern and status",
        "counter",
        () => [...this.series.values()].map((s) => ({ labels: s.labels, value: s.count })),
      ),
    );
    registry.registerMetric(
      this.metric(
        "http_request_duration_seconds",
        "Time to answer an HTTP request, by route pattern and status",
        "histogram",
        () => [...this.series.values()].flatMap(histogramSamples),
      ),
    );
  }

  /** One answered request. */
  record(method: string, route: string, status: string, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      series = {
        labels: { method, route, status },
        count: 0,
        sum: 0,
        buckets: new Array(DURATION_BUCKETS.length + 1).fill(0),
      };
      this.series.set(key, series);
    }
    series.count++;
    series.sum += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) {
      bucket++;
    }
    series.buckets[bucket] = (series.buckets[bucket] as number) + 1;
  }

  /** A metric the registry can scrape; prom-client's own `get()` result shape. */
  private metric(
    name: string,
    help: string,
    type: "counter" | "histogram",
    values: () => { labels: Record<string, string | number>; value: number; metricName?: string }[],
  ): Metric {
    const series = this.series;
    return {
      name,
      help,
      type,
      aggregator: "sum",
      get: async () => ({ name, help, type, aggregator: "sum", values: values() }),
      reset: () => series.clear(),
    } as unknown as Metric;
  }
}

function histogramSamples(series: Series) {
  const name = "http_request_duration_seconds";
  let cumulative = 0;
  const buckets = series.buckets.map((n, i) => {
    cumulative += n;
    return {
      metricName: `${name}_bucket`,
      labels: { ...series.labels, le: DURATION_BUCKETS[i] ?? "+Inf" },
      value: cumulative,
    };
  });
  return [
    ...buckets,
    { metricName: `${name}_sum`, labels: series.labels, value: series.sum },
    { metricName: `${name}_count`, labels: series.labels, value: series.count },
  ];
}
