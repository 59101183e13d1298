import type { Metric, Registry } from "prom-client";

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type SeriesRecorder = { observe(seconds: number): void };

class Series implements SeriesRecorder {
  count = 0;
  sum = 0;
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  readonly buckets: number[] = new Array(DURATION_BUCKETS.length + 1).fill(0);

  constructor(readonly labels: { method: string; route: string; status: string }) {}

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) {
      bucket++;
    }
    this.buckets[bucket] = (this.buckets[bucket] as number) + 1;
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.buckets.fill(0);
  }
}

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

  /**
   * The series of one (method, route, status), to keep and observe directly: the request
   * lifecycle looks each up once per route and status rather than once per request.
   */
  seriesOf(method: string, route: string, status: string): SeriesRecorder {
    const key = `${method} ${route} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      series = new Series({ method, route, status });
      this.series.set(key, series);
    }
    return series;
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
      // Zeroed in place: the lifecycle keeps recorders, which must go on counting.
      reset: () => {
        for (const s of series.values()) s.reset();
      },
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
