/**
 * The merchant events rows of `bun run bench`: orders created and paid under load while each
 * process's dispatcher sends their events to a local receiver (delivery rate, commit-to-delivery
 * delay), and the hold rate with the dispatcher running against without it.
 */
import mysql from "mysql2/promise";
import { Webhook } from "standardwebhooks";
import type { Row } from "./row";

const MERCHANT_SECRET = `whsec_${Buffer.from("bench-merchant-secret-of-32-byte").toString("base64")}`;
const PAYMENT_SECRET = `whsec_${Buffer.from("bench-payment-secret-of-32-bytes").toString("base64")}`;
const RECEIVER_PORT = Number(process.env.BENCH_PORT_BASE ?? 3900) + 3;
const ORDER_WORKERS = 16;
/** The sale going on beside the hold runs: a few shoppers ordering and paying. */
const BACKGROUND_WORKERS = 4;

export type BenchKit = {
  seconds: number;
  freshDatabase: (name: string) => Promise<string>;
  startServer: (
    url: string,
    env: Record<string, string>,
  ) => Promise<{ base: string; stop: () => Promise<void> }>;
  createProduct: (base: string, stock: number) => Promise<number>;
  holdRun: (base: string, productId: number) => Promise<{ rps: number; p50: number; p99: number }>;
};

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);

/**
 * The merchant's endpoint (bench/merchant-receiver.ts) in a process of its own, and what it
 * reports: when each event first arrived, and its delay from the event's commit.
 */
async function startReceiver() {
  const proc = Bun.spawn(["bun", "bench/merchant-receiver.ts"], {
    env: { ...process.env, RECEIVER_PORT: String(RECEIVER_PORT), MERCHANT_SECRET },
    stdout: "pipe",
    stderr: "inherit",
  });
  const firstArrival = new Map<string, number>();
  const delays: number[] = [];
  let bad = 0;
  let ready: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  void (async () => {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        const [kind, id, at, delay] = line.split(" ");
        if (kind === "ready") ready();
        if (kind === "B") bad++;
        if (kind === "A" && id) {
          firstArrival.set(id, Number(at));
          delays.push(Number(delay));
        }
      }
    }
  })();
  await started;
  const base = `http://127.0.0.1:${RECEIVER_PORT}`;
  return {
    url: `${base}/merchant`,
    firstArrival,
    delays,
    bad: () => bad,
    /** From now on it only answers, for the hold-rate runs (see `holdRow`). */
    quiet: async () => {
      await fetch(`${base}/quiet`, { method: "POST" });
    },
    stop: async () => {
      proc.kill();
      await proc.exited;
    },
  };
}

/** Shoppers that each hold, order and pay (signed), one after the other, until `untilMs`. */
async function shoppers(base: string, productId: number, workers: number, untilMs: number) {
  const signer = new Webhook(PAYMENT_SECRET);
  let paid = 0;
  let keys = 0;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, number> }));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < untilMs) {
        const hold = await post("/api/holds", JSON.stringify({ product_id: productId, qty: 1 }));
        if (hold.status !== 201) continue;
        const order = await post("/api/orders", JSON.stringify({ hold_id: hold.body.hold_id }));
        if (order.status !== 201) continue;
        const key = `bench-${process.pid}-${++keys}`;
        const body = JSON.stringify({
          idempotency_key: key,
          order_id: order.body.order_id,
          status: "succeeded",
        });
        const payment = await post("/api/payments/webhook", body, {
          "webhook-id": key,
          "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
          "webhook-signature": signer.sign(key, new Date(), body),
        });
        if (payment.status === 200) paid++;
      }
    }),
  );
  return paid;
}

/** Invariant 5 in SQL: orders whose events are not exactly what their status says. */
async function eventInvariant(pool: mysql.Pool): Promise<number> {
  const [rows] = (await pool.query(`
    SELECT COUNT(*) AS bad FROM orders o
    WHERE (SELECT COUNT(*) FROM merchant_events e WHERE e.order_id = o.id AND e.type = 'order.created') <> 1
       OR (SELECT COUNT(*) FROM merchant_events e WHERE e.order_id = o.id AND e.type = 'order.paid') <> (o.status = 'paid')
       OR (SELECT COUNT(*) FROM merchant_events e WHERE e.order_id = o.id AND e.type = 'order.cancelled') <> (o.status = 'cancelled')`)) as unknown as [
    { bad: number }[],
  ];
  return Number(rows[0]?.bad);
}

const merchantEnv = (receiverUrl: string) => ({
  WEBHOOK_SECRET: PAYMENT_SECRET,
  MERCHANT_WEBHOOK_URL: receiverUrl,
  MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
});

/** Orders created and paid for `seconds` by ORDER_WORKERS shoppers, events sent as they commit. */
async function deliveryRow(kit: BenchKit, concurrency: number) {
  const receiver = await startReceiver();
  const url = await kit.freshDatabase("flash_sale_bench");
  const server = await kit.startServer(url, {
    ...merchantEnv(receiver.url),
    MERCHANT_WEBHOOK_CONCURRENCY: String(concurrency),
  });
  const pool = mysql.createPool({ uri: url, connectionLimit: 1 });
  try {
    const productId = await kit.createProduct(server.base, 100_000_000);
    const started = Date.now();
    const ended = started + kit.seconds * 1000;
    const paid = await shoppers(server.base, productId, ORDER_WORKERS, ended);
    const stoppedAt = Date.now();
    const [[{ events }]] = (await pool.query(
      "SELECT COUNT(*) AS events FROM merchant_events",
    )) as unknown as [[{ events: number }]];
    const total = Number(events);
    while (receiver.firstArrival.size < total && Date.now() - stoppedAt < 60_000) {
      await Bun.sleep(20);
    }
    const drainedMs = Date.now() - stoppedAt;
    const inWindow = [...receiver.firstArrival.values()].filter((t) => t <= stoppedAt).length;
    const seconds = (stoppedAt - started) / 1000;
    const delays = [...receiver.delays].sort((a, b) => a - b);
    const bad = await eventInvariant(pool);
    return {
      scenario: `merchant events: orders created and paid, ${ORDER_WORKERS} shoppers, local receiver, MERCHANT_WEBHOOK_CONCURRENCY=${concurrency}`,
      rps: Math.round(inWindow / seconds),
      p50: percentile(delays, 0.5),
      p99: percentile(delays, 0.99),
      granted: receiver.firstArrival.size,
      refused: receiver.bad(),
      other: total - receiver.firstArrival.size,
      invariants: bad === 0 ? "hold (5 too)" : `${bad} orders break invariant 5`,
      note: `events/s delivered during the load; ${Math.round((2 * paid) / seconds)} events/s committed (${Math.round(paid / seconds)} orders paid/s); p50/p99 = commit to first arrival; last event arrived ${drainedMs} ms after the load stopped`,
    } satisfies Row;
  } finally {
    await pool.end();
    await server.stop();
    await receiver.stop();
  }
}

/**
 * Holds on a hot product while BACKGROUND_WORKERS shoppers order and pay beside them, with the
 * dispatcher delivering their events (URL set) or not (events only recorded). Runs alternate,
 * so the machine's other load falls on both alike. The receiver only answers here: a merchant's
 * endpoint runs on machines of its own, and these runs measure what sending costs the service.
 */
async function holdRow(kit: BenchKit, receiverUrl: string, dispatching: boolean) {
  const url = await kit.freshDatabase("flash_sale_bench");
  const env = dispatching ? merchantEnv(receiverUrl) : { WEBHOOK_SECRET: PAYMENT_SECRET };
  const server = await kit.startServer(url, env);
  try {
    const hot = await kit.createProduct(server.base, 100_000_000);
    const ordered = await kit.createProduct(server.base, 100_000_000);
    const sale = shoppers(
      server.base,
      ordered,
      BACKGROUND_WORKERS,
      Date.now() + kit.seconds * 1000,
    );
    const holds = await kit.holdRun(server.base, hot);
    const paid = await sale;
    return { ...holds, paid };
  } finally {
    await server.stop();
  }
}

export async function merchantEventRows(kit: BenchKit): Promise<{ rows: Row[]; summary: string }> {
  const delivery = [await deliveryRow(kit, 8), await deliveryRow(kit, 32)];
  const receiver = await startReceiver();
  await receiver.quiet();
  try {
    const runs: { dispatching: boolean; rps: number; p50: number; p99: number; paid: number }[] =
      [];
    for (const dispatching of [true, false, true, false, true, false]) {
      runs.push({ dispatching, ...(await holdRow(kit, receiver.url, dispatching)) });
    }
    const median = (dispatching: boolean) => {
      const chosen = runs
        .filter((r) => r.dispatching === dispatching)
        .sort((a, b) => a.rps - b.rps);
      return chosen[Math.floor(chosen.length / 2)] as (typeof runs)[number];
    };
    const holdRows = [true, false].map((dispatching) => {
      const r = median(dispatching);
      return {
        scenario: `holds, hot product, 64 conns, ${BACKGROUND_WORKERS} shoppers ordering beside, dispatcher ${dispatching ? "sending" : "off (no URL)"}`,
        rps: r.rps,
        p50: r.p50,
        p99: r.p99,
        granted: 0,
        refused: 0,
        other: 0,
        invariants: "n/a",
        note: `median of 3 interleaved runs: ${runs
          .filter((x) => x.dispatching === dispatching)
          .map((x) => x.rps)
          .join(", ")} holds/s; ${r.paid} orders paid beside`,
      } satisfies Row;
    });
    const [on, off] = holdRows;
    const summary = `holds with the dispatcher sending / off: ${((on?.rps ?? 0) / Math.max(1, off?.rps ?? 0)).toFixed(2)}× (medians of 3 interleaved runs each)`;
    return { rows: [...delivery, ...holdRows], summary };
  } finally {
    await receiver.stop();
  }
}
