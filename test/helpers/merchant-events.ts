import { afterAll, beforeAll } from "bun:test";
import {
  type MerchantDispatcher,
  startMerchantDispatcher,
} from "../../src/jobs/merchant-dispatcher";
import {
  admin,
  type Client,
  client,
  createHold,
  createOrder,
  createProduct,
  type Json,
} from "./fixtures";
import { createTestContext, type Running, serve, type TestContext } from "./harness";
import { MERCHANT_SECRET, MerchantReceiver } from "./merchant-receiver";

export type FeedEvent = {
  id: number;
  type: string;
  order_id: number;
  created_at: string;
  data: Json;
  delivery: {
    status: string;
    attempts: number;
    last_error: string | null;
    next_attempt_at: string | null;
    delivered_at: string | null;
  };
};

export async function feed(api: Client, query = ""): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await api.get(`/api/admin/events?limit=1000&after_id=${after}${query}`, admin);
    if (page.status !== 200) throw new Error(`feed: ${JSON.stringify(page.body)}`);
    events.push(...(page.body.events as FeedEvent[]));
    if (page.body.next_after_id === null) return events;
    after = page.body.next_after_id as number;
  }
}

export async function newOrder(api: Client): Promise<number> {
  const productId = await createProduct(api, 10);
  return createOrder(api, await createHold(api, productId, 2));
}

/** Waits until every recorded event is delivered and the receiver accepted each. */
export async function allDelivered(api: Client, receiver: MerchantReceiver): Promise<FeedEvent[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const events = await feed(api);
    const accepted = new Set(receiver.accepted().map((d) => d.id));
    if (events.every((e) => e.delivery.status === "delivered" && accepted.has(String(e.id)))) {
      return events;
    }
    if (Date.now() > end) throw new Error("events still undelivered");
    await Bun.sleep(50);
  }
}

/**
 * For each order, every delivery of a later order event came after an earlier one was
 * accepted; returns the violations.
 */
export function orderViolations(events: FeedEvent[], receiver: MerchantReceiver): string[] {
  const problems: string[] = [];
  const firstAccepted = (id: number) =>
    receiver.deliveries.findIndex((d) => d.id === String(id) && d.answered === 200);
  const byOrder = new Map<number, FeedEvent[]>();
  for (const e of events.filter((e) => e.type.startsWith("order."))) {
    byOrder.set(e.order_id, [...(byOrder.get(e.order_id) ?? []), e]);
  }
  for (const [orderId, list] of byOrder) {
    for (let i = 1; i < list.length; i++) {
      const earlier = firstAccepted((list[i - 1] as FeedEvent).id);
      const later = list[i] as FeedEvent;
      const firstSent = receiver.deliveries.findIndex((d) => d.id === String(later.id));
      if (earlier < 0 || firstSent < earlier) {
        problems.push(`order ${orderId}: ${later.type} sent before its earlier event arrived`);
      }
    }
  }
  return problems;
}

type MerchantContext = {
  ctx: TestContext;
  api: Client;
  receiver: MerchantReceiver;
  dispatcher: MerchantDispatcher;
};

/** A fresh database, the app on a socket, a receiver, and this process's dispatcher. */
export function useMerchantContext(env: Record<string, string>): () => MerchantContext {
  let made: MerchantContext | undefined;
  let running: Running | undefined;
  beforeAll(async () => {
    const receiver = new MerchantReceiver().start();
    const ctx = await createTestContext({
      MERCHANT_WEBHOOK_URL: receiver.url(),
      MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
      MERCHANT_WEBHOOK_POLL_MS: "20",
      MERCHANT_WEBHOOK_BACKOFF_MS: "20",
      MERCHANT_WEBHOOK_BACKOFF_MAX_MS: "200",
      MERCHANT_WEBHOOK_TIMEOUT_MS: "300",
      ...env,
    });
    running = serve(ctx.app);
    const dispatcher = startMerchantDispatcher(ctx.deps);
    if (!dispatcher) throw new Error("no dispatcher with a URL set");
    made = { ctx, api: client(running.baseUrl), receiver, dispatcher };
  });
  afterAll(async () => {
    await made?.dispatcher.stop();
    await made?.receiver.stop();
    await running?.stop();
    await made?.ctx.close();
  });
  return () => {
    if (!made) throw new Error("useMerchantContext: used outside a test");
    return made;
  };
}
