import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { RequestMetrics } from "./request-metrics";

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * prom-client's defaults that are false or empty on Bun. `process_heap_bytes` is VmData, which
 * Bun's reserved address space makes gigabytes beside a resident size of a hundred megabytes;
 * `process.memoryUsage()` gives a heap used above the heap total (the Bun entry exports
 * JavaScriptCore's own figures instead, see runtime-metrics.ts); the heap spaces are V8's, all
 * zero but one; Bun reports no GC entries, no active handles, requests or resources; and the
 * version is the Node.js one Bun imitates. (The three `…_total` gauges also wore a counter's
 * suffix, which `promtool check metrics` refuses.)
 */
const UNTRUE_DEFAULTS = [
  "process_heap_bytes",
  "nodejs_heap_size_total_bytes",
  "nodejs_heap_size_used_bytes",
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
  "nodejs_gc_duration_seconds",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
  "nodejs_version_info",
];

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

/** What the gauges read at scrape time, from the process's own state. */
export type MetricSources = {
  /** Hold requests waiting or in a transaction, per product with any. */
  holdQueues: () => Iterable<[productId: number, depth: number]>;
  pool: () => { limit: number; open: number; idle: number; waiting: number };
};

/** Gauges read from the process's queues and pool at scrape time. */
function processGauges(registers: Registry[], sources: MetricSources): void {
  new Gauge({
    name: "hold_queue_depth",
    help: "Hold requests this process has waiting or in a transaction, per product (products with none are not listed)",
    labelNames: ["product_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const [productId, depth] of sources.holdQueues()) {
        this.set({ product_id: String(productId) }, depth);
      }
    },
  });
  new Gauge({
    name: "db_pool_connections",
    help: "Connections of this process's database pool, by state (in_use: lent to a transaction or query)",
    labelNames: ["state"] as const,
    registers,
    collect() {
      const pool = sources.pool();
      this.set({ state: "in_use" }, pool.open - pool.idle);
      this.set({ state: "idle" }, pool.idle);
    },
  });
  new Gauge({
    name: "db_pool_waiting_requests",
    help: "Requests waiting for a connection of this process's pool (all DB_POOL_SIZE in use)",
    registers,
    collect() {
      this.set(sources.pool().waiting);
    },
  });
  new Gauge({
    name: "db_pool_max_connections",
    help: "DB_POOL_SIZE: the most connections this process's pool opens",
    registers,
    collect() {
      this.set(sources.pool().limit);
    },
  });
}

/**
 * One registry per app instance, so tests can build several apps in one process. With
 * WORKERS=N every process's series carry its `worker` label and one scrape answers for all
 * (worker-metrics.ts).
 */
export function createMetrics(labels: Record<string, string> = {}, sources?: MetricSources) {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  for (const name of UNTRUE_DEFAULTS) registry.removeSingleMetric(name);
  const registers = [registry];
  const cacheReads = countedAtScrape(registers, {
    name: "product_cache_requests_total",
    help: "Product reads, by cache result",
    label: "result",
    known: ["hit", "miss"],
  });
  if (sources) processGauges(registers, sources);
  return {
    registry,
    /** The text of GET /metrics; under a supervisor, every worker's (see worker-metrics.ts). */
    scrape: (): Promise<string> => registry.metrics(),
    requests: new RequestMetrics(registry),
    sweeperRuns: new Counter({
      name: "sweeper_runs_total",
      help: "Sweeper runs that completed (failed ones are in job_runs_failed_total)",
      registers,
    }),
    sweeperLag: new Histogram({
      name: "sweeper_lag_seconds",
      help: "Per sweeper run that returned expired holds: how long the most overdue of them had been past its expires_at (database clock)",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
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
    ticketsJoined: new Counter({
      name: "waiting_room_tickets_joined_total",
      help: "Waiting-room tickets given by this process (rejoins included)",
      registers,
    }),
    ticketsAdmitted: new Counter({
      name: "waiting_room_tickets_admitted_total",
      help: "Waiting-room tickets whose admission this process wrote (each ticket once, by one process)",
      registers,
    }),
    ticketsExpiredUnused: new Counter({
      name: "waiting_room_tickets_expired_unused_total",
      help: "Waiting-room admissions that ended without a hold, counted by the process whose admission job saw them end",
      registers,
    }),
    waitingRoomLine: new Gauge({
      name: "waiting_room_line_length",
      help: "Tickets waiting in a product's line (placed and not yet admitted, or awaiting the draw), at this process's admission job's last look",
      labelNames: ["product_id"] as const,
      registers,
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
