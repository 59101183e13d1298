import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { RequestMetrics } from "./request-metrics";

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * prom-client's defaults include three gauges named `…_total`, a suffix Prometheus reserves for
 * counters (`promtool check metrics` refuses them). They are dropped: each is the sum of a gauge
 * prom-client also exports by type (`sum(nodejs_active_handles)` and so on).
 */
function dropTotalGauges(registry: Registry): void {
  for (const name of ["handles", "requests", "resources"]) {
    registry.removeSingleMetric(`nodejs_active_${name}_total`);
  }
}

/**
 * A counter with one label, counted in plain numbers and added to prom-client's at scrape:
 * prom-client hashes the labels on every `inc`, a cost on the hottest paths (a cached read, a
 * sold-out refusal; see RequestMetrics for the same on every request).
 */
function countedAtScrape<Label extends string>(
  registers: Registry[],
  options: { name: string; help: string; label: Label; known?: string[] },
): { inc(labels: Record<Label, string>, value?: number): void } {
  const { label } = options;
  // Known values are exported from the start, at 0.
  const counts = new Map<string, number>(options.known?.map((value) => [value, 0]));
  new Counter({
    name: options.name,
    help: options.help,
    labelNames: [label],
    registers,
    collect() {
      for (const [value, count] of counts) {
        this.inc({ [label]: value } as Partial<Record<Label, string>>, count);
        counts.set(value, 0);
      }
    },
  });
  return {
    inc(labels, value = 1) {
      const key = labels[label];
      counts.set(key, (counts.get(key) ?? 0) + value);
    },
  };
}

/**
 * One registry per app instance, so tests can build several apps in one process. With
 * WORKERS=N every process exposes its own series labelled `worker`; Prometheus sums them.
 */
export function createMetrics(labels: Record<string, string> = {}) {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  dropTotalGauges(registry);
  const cacheReads = countedAtScrape(registers, {
    name: "product_cache_requests_total",
    help: "Product reads, by cache result",
    label: "result",
    known: ["hit", "miss"],
  });
  return {
    registry,
    requests: new RequestMetrics(registry),
    holdsGranted: new Counter({
      name: "holds_granted_total",
      help: "Holds granted",
      registers,
    }),
    holdsRefused: countedAtScrape(registers, {
      name: "holds_refused_total",
      help: "Hold requests refused, by reason",
      label: "reason",
    }),
    holdBatchSize: new Histogram({
      name: "hold_batch_size",
      help: "Hold requests served by one transaction",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    }),
    txRetries: new Counter({
      name: "db_transaction_retries_total",
      help: "Transactions retried after a transient failure (deadlock, lock wait timeout, lost connection...), by reason",
      labelNames: ["reason"] as const,
      registers,
    }),
    jobRunsFailed: new Counter({
      name: "job_runs_failed_total",
      help: "Sweeper and reconciliation runs that failed, by job and reason (busy: a conflict with another process's run, or the database down; error: anything else)",
      labelNames: ["job", "reason"] as const,
      registers,
    }),
    webhookEvents: new Counter({
      name: "payment_webhook_events_total",
      help: "Payment webhook events, by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    holdsExpired: new Counter({
      name: "holds_expired_total",
      help: "Expired holds whose units went back to stock, by who noticed",
      labelNames: ["by"] as const,
      registers,
    }),
    ordersCancelled: new Counter({
      name: "orders_cancelled_total",
      help: "Orders cancelled, by reason",
      labelNames: ["reason"] as const,
      registers,
    }),
    productCacheHits: { inc: () => cacheReads.inc({ result: "hit" }) },
    productCacheMisses: { inc: () => cacheReads.inc({ result: "miss" }) },
    databaseUp: new Gauge({
      name: "database_up",
      help: "1 while the database answers this process, 0 from the first failure until it answers again",
      registers,
    }),
    buyerLimitBreaches: new Gauge({
      name: "buyer_limit_breaches",
      help: "Buyers over a product's max_per_buyer with a hold granted since the limit changed, at the last check",
      registers,
    }),
    merchantDeliveries: new Counter({
      name: "merchant_webhook_deliveries_total",
      help: "Merchant event delivery attempts, by result (delivered; retry: failed, tried again later; failed: the last attempt failed)",
      labelNames: ["result"] as const,
      registers,
    }),
    merchantAttempts: new Histogram({
      name: "merchant_webhook_delivery_attempts",
      help: "Attempts a merchant event took until it was delivered",
      buckets: [1, 2, 3, 4, 6, 8, 12, 20],
      registers,
    }),
    merchantOldestUndelivered: new Gauge({
      name: "merchant_events_oldest_undelivered_seconds",
      help: "Age of the oldest merchant event not yet delivered (pending or failed), at this process's dispatcher's last look; 0 when none or no dispatcher",
      registers,
    }),
    stockDrift: new Gauge({
      name: "stock_drift_products",
      help: "Products whose stock counters disagree with their holds and orders at the last check",
      registers,
    }),
  };
}
