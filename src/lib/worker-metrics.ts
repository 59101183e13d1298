import type { Metric, MetricObjectWithValues, MetricValue, Registry } from "prom-client";
import { Gauge, Registry as PromRegistry } from "prom-client";

/**
 * One scrape for every worker. Under WORKERS=N the kernel hands a scrape to any one worker
 * (SO_REUSEPORT), so that worker asks the supervisor, over the IPC channel Bun opens to each
 * child, for every worker's series; each carries its own `worker` label, so they are merged
 * side by side, never summed. A worker that does not answer within the timeout (one being
 * restarted) is left out and counted in `metrics_scrape_workers_missing`.
 */

type Series = MetricObjectWithValues<MetricValue<string>>;

export type WorkerMessage =
  | { kind: "ready" }
  | { kind: "scrape"; id: number }
  | { kind: "collected"; id: number; series: Series[] };

export type SupervisorMessage =
  | { kind: "collect"; id: number }
  | { kind: "scraped"; id: number; parts: Series[][]; missing: number };

/** How long a scrape waits for the other workers before answering without them. */
const SCRAPE_TIMEOUT_MS = 2000;

/** The Prometheus text of several registries' series: one HELP and TYPE per name. */
export async function mergeSeries(parts: Series[][], missing: number): Promise<string> {
  const byName = new Map<string, Series>();
  for (const part of parts) {
    for (const metric of part) {
      const seen = byName.get(metric.name);
      if (seen) seen.values.push(...metric.values);
      else byName.set(metric.name, { ...metric, values: [...metric.values] });
    }
  }
  const registry = new PromRegistry();
  new Gauge({
    name: "metrics_scrape_workers_missing",
    help: "Workers whose series this scrape lacks: they did not answer in time (being restarted)",
    registers: [registry],
  }).set(missing);
  for (const metric of byName.values()) {
    registry.registerMetric({ ...metric, get: () => metric } as unknown as Metric);
  }
  return registry.metrics();
}

type Channel = {
  send: (message: WorkerMessage) => void;
  on: (event: "message", listener: (message: SupervisorMessage) => void) => void;
};

/**
 * The worker's side: answers the supervisor's collect requests with its registry, and returns
 * the scrape function /metrics uses.
 */
export function workerScrape(registry: Registry, channel: Channel, workers: number) {
  const waiting = new Map<number, (text: Promise<string>) => void>();
  let next = 0;
  channel.on("message", (message) => {
    if (message.kind === "collect") {
      void registry.getMetricsAsJSON().then((series) => {
        channel.send({ kind: "collected", id: message.id, series: series as Series[] });
      });
    } else if (message.kind === "scraped") {
      waiting.get(message.id)?.(mergeSeries(message.parts, message.missing));
      waiting.delete(message.id);
    }
  });
  channel.send({ kind: "ready" });
  return (): Promise<string> => {
    const id = ++next;
    return new Promise<string>((resolve) => {
      // The supervisor answers within its own timeout; this one only covers a supervisor gone.
      const timer = setTimeout(() => {
        waiting.delete(id);
        const own = registry.getMetricsAsJSON();
        resolve(own.then((series) => mergeSeries([series as Series[]], workers - 1)));
      }, SCRAPE_TIMEOUT_MS * 2);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      channel.send({ kind: "scrape", id });
    });
  };
}

type Peer = { send: (message: SupervisorMessage) => void };

type Gathering = {
  asker: Peer;
  askerId: number;
  parts: Series[][];
  pending: Set<Peer>;
  /** Workers that exited before they answered. */
  lost: number;
  timer: ReturnType<typeof setTimeout>;
};

/** The supervisor's side: fans a scrape out to every ready worker and sends the parts back. */
export class ScrapeRelay {
  private readonly ready = new Set<Peer>();
  private readonly gatherings = new Map<number, Gathering>();
  private next = 0;

  receive(from: Peer, message: WorkerMessage): void {
    if (message.kind === "ready") {
      this.ready.add(from);
    } else if (message.kind === "scrape") {
      const id = ++this.next;
      const gathering: Gathering = {
        asker: from,
        askerId: message.id,
        parts: [],
        pending: new Set(this.ready),
        lost: 0,
        timer: setTimeout(() => this.finish(id), SCRAPE_TIMEOUT_MS),
      };
      this.gatherings.set(id, gathering);
      for (const peer of gathering.pending) {
        try {
          peer.send({ kind: "collect", id });
        } catch {
          // Exited, its exit not yet handled: it is missing from this scrape.
          gathering.pending.delete(peer);
          gathering.lost++;
        }
      }
      if (gathering.pending.size === 0) this.finish(id);
    } else {
      const gathering = this.gatherings.get(message.id);
      if (!gathering?.pending.delete(from)) return;
      gathering.parts.push(message.series);
      if (gathering.pending.size === 0) this.finish(message.id);
    }
  }

  /** A worker that exited: no scrape waits for it any more. */
  gone(peer: Peer): void {
    this.ready.delete(peer);
    for (const [id, gathering] of this.gatherings) {
      if (!gathering.pending.delete(peer)) continue;
      gathering.lost++;
      if (gathering.pending.size === 0) this.finish(id);
    }
  }

  private finish(id: number): void {
    const gathering = this.gatherings.get(id);
    if (!gathering) return;
    this.gatherings.delete(id);
    clearTimeout(gathering.timer);
    try {
      gathering.asker.send({
        kind: "scraped",
        id: gathering.askerId,
        parts: gathering.parts,
        missing: gathering.pending.size + gathering.lost,
      });
    } catch {
      // The asker exited meanwhile: nobody waits for this answer.
    }
  }
}
