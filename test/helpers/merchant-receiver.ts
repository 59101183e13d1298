import type { Server } from "bun";
import { Webhook } from "standardwebhooks";
import { until } from "./until";

/** A merchant's secret for the tests (32 bytes, as Standard Webhooks asks). */
export const MERCHANT_SECRET = `whsec_${Buffer.from("merchant-receiver-secret-32-byte").toString("base64")}`;

export type Delivery = {
  /** `webhook-id`. */
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
  /** What the receiver answered: 200 (accepted), 500, or 0 (left hanging). */
  answered: number;
  /** The `via` query parameter of the URL it was sent to: which sender, when several differ. */
  via: string | null;
};

/** How the receiver treats one request: accept, refuse with 500, or never answer. */
export type Behaviour = "ok" | "fail" | "hang";

/**
 * The merchant's side, as a merchant would write it: each request is verified with the
 * standardwebhooks library before anything else (a bad signature is a 400 and counted), and
 * recorded. `behaviour` decides each answer; `inFlight` tracks requests per webhook-id, so a
 * test can prove that one event was never being sent twice at the same moment.
 */
export class MerchantReceiver {
  readonly deliveries: Delivery[] = [];
  badSignatures = 0;
  /** The most requests for one webhook-id that were open at the same moment. */
  maxOverlap = 0;
  behaviour: (delivery: Delivery) => Behaviour = () => "ok";
  /** How long each answer takes: a slow receiver widens the window two senders could overlap in. */
  delayMs = 0;
  private readonly open = new Map<string, number>();
  private readonly hanging = new Set<() => void>();
  private server: Server<undefined> | undefined;
  private readonly verifier = new Webhook(MERCHANT_SECRET);
  port = 0;

  start(port = this.port): this {
    this.server = Bun.serve({
      port,
      hostname: "127.0.0.1",
      idleTimeout: 0,
      fetch: (req) => this.handle(req),
    });
    this.port = this.server.port ?? port;
    return this;
  }

  /** The URL to configure; `via` tells senders apart. */
  url(via?: string): string {
    return `http://127.0.0.1:${this.port}/hooks${via ? `?via=${via}` : ""}`;
  }

  /** Down: connections refused until `start()` again on the same port. */
  async stop(): Promise<void> {
    this.releaseHanging();
    await this.server?.stop(true);
    this.server = undefined;
  }

  releaseHanging(): void {
    for (const release of this.hanging) release();
    this.hanging.clear();
  }

  accepted(): Delivery[] {
    return this.deliveries.filter((d) => d.answered === 200);
  }

  /** Waits until `done` holds, polling the recorded deliveries; fails after `ms`. */
  async until(done: (receiver: this) => boolean, ms = 20_000): Promise<void> {
    await until(() => done(this), Boolean, {
      tries: ms / 20,
      everyMs: 20,
      orThrow: "what the receiver awaited",
    });
  }

  private async handle(req: Request): Promise<Response> {
    const body = await req.text();
    let payload: { type: string; timestamp: string; data: Record<string, unknown> };
    try {
      payload = this.verifier.verify(body, Object.fromEntries(req.headers)) as typeof payload;
    } catch {
      this.badSignatures++;
      return new Response("bad signature", { status: 400 });
    }
    const id = req.headers.get("webhook-id") ?? "";
    const via = new URL(req.url).searchParams.get("via");
    const delivery: Delivery = { id, ...payload, answered: 0, via };
    this.deliveries.push(delivery);
    const open = (this.open.get(id) ?? 0) + 1;
    this.open.set(id, open);
    this.maxOverlap = Math.max(this.maxOverlap, open);
    try {
      const behaviour = this.behaviour(delivery);
      if (behaviour === "hang") {
        // Until the test releases it or the sender gives up and closes the connection.
        await new Promise<void>((resolve) => {
          this.hanging.add(resolve);
          req.signal.addEventListener("abort", () => resolve());
        });
        return new Response("too late", { status: 503 });
      }
      if (this.delayMs > 0) await Bun.sleep(this.delayMs);
      delivery.answered = behaviour === "ok" ? 200 : 500;
      return new Response(behaviour === "ok" ? "ok" : "broken", { status: delivery.answered });
    } finally {
      this.open.set(id, (this.open.get(id) ?? 1) - 1);
    }
  }
}
