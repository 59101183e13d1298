import { describe, expect, test } from "bun:test";
import { useServers } from "./helpers/apps";
import { admin, type Client, createProduct } from "./helpers/fixtures";
import { rows } from "./helpers/harness";

// The contract's "Paging never skips": consumers paging the events feed with after_id, from 0
// and then from the last id each saw, while six writers record events through two processes.
// An id is given at INSERT and becomes visible at COMMIT, so without care a page shows a later
// id while an earlier one is still being committed, and the cursor passes it for good.

const WRITERS = 6;
const WRITING_MS = 8_000;
/** How long after the writers stop a consumer may take to see the last committed event. */
const CATCH_UP_MS = 20_000;

type Consumer = { limit: number; api: Client; seen: number[] };

async function write(api: Client, productId: number, until: number): Promise<void> {
  while (Date.now() < until) {
    const hold = await api.post("/api/holds", { product_id: productId, qty: 1 });
    if (hold.status !== 201) throw new Error(`hold: ${JSON.stringify(hold.body)}`);
    const order = await api.post("/api/orders", { hold_id: hold.body.hold_id });
    if (order.status !== 201) throw new Error(`order: ${JSON.stringify(order.body)}`);
    const key = `paging_${order.body.order_id}`;
    const paid = await api.webhook({
      idempotency_key: key,
      order_id: order.body.order_id,
      status: "succeeded",
    });
    if (paid.status !== 200) throw new Error(`webhook: ${JSON.stringify(paid.body)}`);
  }
}

/** Pages from 0, then always from the last id it saw, until `done` says it has seen enough. */
async function consume(consumer: Consumer, done: () => boolean, until: () => number) {
  let after = 0;
  while (!done() && Date.now() < until()) {
    const page = await consumer.api.get(
      `/api/admin/events?limit=${consumer.limit}&after_id=${after}`,
      admin,
    );
    if (page.status !== 200) throw new Error(`feed: ${JSON.stringify(page.body)}`);
    const ids = (page.body.events as { id: number }[]).map((e) => e.id);
    consumer.seen.push(...ids);
    after = ids.at(-1) ?? after;
    if (page.body.next_after_id === null) await Bun.sleep(ids.length === 0 ? 20 : 2);
  }
}

describe("the events feed while events are being written", () => {
  const { ctx, apis } = useServers(2, { DB_POOL_SIZE: "12" });

  test("consumers paging with limit 1, 2 and 100 through two processes see every id exactly once", async () => {
    const api = (i: number) => apis[i % apis.length] as Client;
    const productId = await createProduct(api(0), 1_000_000);
    const consumers: Consumer[] = [1, 2, 100, 1, 2, 100].map((limit, i) => ({
      limit,
      api: api(i),
      seen: [],
    }));

    let writersDone = false;
    let total = Number.POSITIVE_INFINITY;
    let endAt = Number.POSITIVE_INFINITY;
    const reading = consumers.map((c) =>
      consume(
        c,
        () => writersDone && c.seen.length >= total,
        () => endAt,
      ),
    );
    const until = Date.now() + WRITING_MS;
    await Promise.all(Array.from({ length: WRITERS }, (_, i) => write(api(i), productId, until)));
    const [row] = await rows<{ n: number }>(ctx.sql, "SELECT COUNT(*) AS n FROM merchant_events");
    total = Number(row?.n);
    writersDone = true;
    endAt = Date.now() + CATCH_UP_MS;
    await Promise.all(reading);

    const ids = (
      await rows<{ id: number }>(ctx.sql, "SELECT id FROM merchant_events ORDER BY id")
    ).map((r) => r.id);
    expect(ids.length).toBeGreaterThan(100);
    const wrong = consumers.flatMap((consumer) => {
      const seen = new Set(consumer.seen);
      const missed = ids.filter((id) => !seen.has(id));
      const twice = consumer.seen.length - seen.size;
      return missed.length > 0 || twice > 0 ? [{ limit: consumer.limit, missed, twice }] : [];
    });
    expect(wrong).toEqual([]);
  }, 90_000);

  test("an event above a gap (an id rolled back) shows within a few seconds, once it has settled", async () => {
    const api = apis[0] as Client;
    const [before] = await rows<{ id: number }>(
      ctx.sql,
      "SELECT COALESCE(MAX(id), 0) AS id FROM merchant_events",
    );
    const conn = await ctx.sql.getConnection();
    try {
      await conn.query("BEGIN");
      await conn.query(
        "INSERT INTO merchant_events (type, order_id, data) VALUES ('order.paid', 1, '{}')",
      );
      await conn.query("ROLLBACK");
    } finally {
      conn.release();
    }
    const productId = await createProduct(api, 1);
    const hold = await api.post("/api/holds", { product_id: productId, qty: 1 });
    const order = await api.post("/api/orders", { hold_id: hold.body.hold_id });
    expect(order.status).toBe(201);
    const [last] = await rows<{ id: number }>(ctx.sql, "SELECT MAX(id) AS id FROM merchant_events");
    const end = Date.now() + 15_000;
    let shown: number[] = [];
    while (!shown.includes(Number(last?.id)) && Date.now() < end) {
      const page = await api.get(
        `/api/admin/events?limit=100&after_id=${Number(before?.id)}`,
        admin,
      );
      shown = (page.body.events as { id: number }[]).map((e) => e.id);
      await Bun.sleep(100);
    }
    expect(shown).toEqual([Number(last?.id)]);
  });
});
