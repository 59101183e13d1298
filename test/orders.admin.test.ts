import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { useServedApp } from "./helpers/apps";
import { bearer, HS256, hs256, limitedProduct } from "./helpers/buyers";
import { ISO_MS } from "./helpers/clock";
import { expectProblem } from "./helpers/contract";
import { parseCsvStrict } from "./helpers/csv";
import { admin, type Reply } from "./helpers/fixtures";
import { count, rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";

// GET /api/admin/orders (filters, after_id paging oldest first), its CSV export (RFC 4180,
// formula cells made inert, streamed) and POST /api/admin/orders/:id/cancel.

const { ctx, api } = useServedApp(HS256);

type AdminOrder = {
  order_id: number;
  product_id: number;
  buyer_id: string | null;
  status: string;
  created_at: string;
  updated_at: string;
};

async function order(productId: number, buyer: string, qty = 1): Promise<number> {
  const as = bearer(await hs256({ sub: buyer }));
  const hold = await api.post("/api/holds", { product_id: productId, qty }, as);
  expect(hold.status).toBe(201);
  const made = await api.post("/api/orders", { hold_id: hold.body.hold_id }, as);
  expect(made.status).toBe(201);
  return made.body.order_id as number;
}

let keys = 0;
const pay = (orderId: number, status: "succeeded" | "failed") =>
  api.webhook({ idempotency_key: `adm-${orderId}-${++keys}`, order_id: orderId, status });

/** Every page of `query`, `limit` at a time. */
async function allPages(query: string, limit: number): Promise<AdminOrder[]> {
  const seen: AdminOrder[] = [];
  let after = 0;
  for (;;) {
    const page = await api.get(`/api/admin/orders?limit=${limit}&after_id=${after}${query}`, admin);
    expect(page.status).toBe(200);
    const orders = page.body.orders as AdminOrder[];
    expect(orders.length).toBeLessThanOrEqual(limit);
    seen.push(...orders);
    if (page.body.next_after_id === null) return seen;
    expect(page.body.next_after_id).toBe(orders.at(-1)?.order_id);
    after = page.body.next_after_id as number;
  }
}

const cancel = (orderId: number, body: unknown = {}) =>
  api.post(`/api/admin/orders/${orderId}/cancel`, body, admin);

describe("the list", () => {
  test("pages oldest first with no repeat or gap, and filters by status, product and buyer", async () => {
    const shoes = await limitedProduct(api, 100, null);
    const shirts = await limitedProduct(api, 100, null);
    const made: { id: number; product: number; buyer: string }[] = [];
    for (const [i, buyer] of ["alice", "bob", "alice", "carol", "bob", "alice", "bob"].entries()) {
      const product = i % 2 === 0 ? shoes : shirts;
      made.push({ id: await order(product, buyer), product, buyer });
    }
    await pay(made[0]?.id as number, "succeeded");
    await pay(made[1]?.id as number, "failed");
    await pay(made[5]?.id as number, "succeeded");

    const mine = (o: AdminOrder) => made.some((m) => m.id === o.order_id);
    const everything = (await allPages("", 2)).filter(mine);
    expect(everything.map((o) => o.order_id)).toEqual(made.map((m) => m.id));
    for (const o of everything) {
      expect(o.created_at).toMatch(ISO_MS);
      expect(o.updated_at).toMatch(ISO_MS);
      expect(o.updated_at >= o.created_at).toBe(true);
    }
    const paid = everything.filter((o) => o.status === "paid");
    expect(paid.map((o) => o.order_id)).toEqual([made[0]?.id as number, made[5]?.id as number]);

    const byStatus = await allPages("&status=paid", 1);
    expect(byStatus.filter(mine).map((o) => o.order_id)).toEqual([
      made[0]?.id as number,
      made[5]?.id as number,
    ]);
    const byProduct = await allPages(`&product_id=${shirts}`, 2);
    expect(byProduct.map((o) => o.order_id)).toEqual(
      made.filter((m) => m.product === shirts).map((m) => m.id),
    );
    const byBuyer = await allPages(`&buyer_id=alice&product_id=${shoes}`, 1);
    expect(byBuyer.map((o) => o.order_id)).toEqual(
      made.filter((m) => m.buyer === "alice" && m.product === shoes).map((m) => m.id),
    );
    const cancelledBobs = await allPages("&buyer_id=bob&status=cancelled", 5);
    expect(cancelledBobs.map((o) => o.order_id)).toEqual([made[1]?.id as number]);
    expect(await allPages("&buyer_id=nobody", 5)).toEqual([]);
  });

  test("the buyer filter counts characters as a token's sub does: 128 outside the BMP are one buyer, 129 a 422", async () => {
    const productId = await limitedProduct(api, 10, null);
    const longest = "🎟".repeat(128);
    const orderId = await order(productId, longest);
    const found = await allPages(`&buyer_id=${encodeURIComponent(longest)}`, 5);
    expect(found.map((o) => [o.order_id, o.buyer_id])).toEqual([[orderId, longest]]);
    const over = await api.get(
      `/api/admin/orders?buyer_id=${encodeURIComponent(`${longest}x`)}`,
      admin,
    );
    expect(over.status).toBe(422);
    expect(over.body.code).toBe("validation_failed");
  });

  test("bad filters or paging are 422; without the token a 401", async () => {
    for (const query of [
      "status=shipped",
      "product_id=0",
      "product_id=abc",
      "buyer_id=",
      "limit=0",
      "limit=1001",
      "after_id=-1",
      "status=paid&status=pending",
    ]) {
      const refused = await api.get(`/api/admin/orders?${query}`, admin);
      expect([query, refused.status]).toEqual([query, 422]);
      expect(refused.body.code).toBe("validation_failed");
      const exported = await api.raw(`/api/admin/orders/export?${query}`, { headers: admin });
      if (!query.startsWith("limit") && !query.startsWith("after")) {
        expect([query, exported.status]).toEqual([query, 422]);
      }
      await exported.body?.cancel();
    }
    expect((await api.get("/api/admin/orders")).status).toBe(401);
    expect((await api.get("/api/admin/orders/export")).status).toBe(401);
  });
});

describe("the CSV export", () => {
  const hostile = [
    "comma,buyer",
    'quote "buyer"',
    "line\r\nbreak",
    "lf\nonly",
    "=HYPERLINK(1)",
    "+1+2",
    "-2",
    "@SUM(A1)",
    "\tlead tab",
    "\rlead cr",
    "plain",
  ];

  test("RFC 4180 with a header row; buyer ids with commas, quotes, line breaks and formula starts come back whole, formulas prefixed with '", async () => {
    const productId = await limitedProduct(api, 100, null);
    const ids = new Map<number, string>();
    for (const buyer of hostile) ids.set(await order(productId, buyer), buyer);
    const paidId = [...ids.keys()][0] as number;
    await pay(paidId, "succeeded");

    const response = await api.raw(`/api/admin/orders/export?product_id=${productId}`, {
      headers: admin,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="orders.csv"');
    const records = parseCsvStrict(await response.text());
    expect(records[0]).toEqual([
      "order_id",
      "hold_id",
      "product_id",
      "buyer_id",
      "qty",
      "unit_price_cents",
      "total_cents",
      "status",
      "created_at",
      "updated_at",
    ]);
    const body = records.slice(1);
    expect(body.map((r) => Number(r[0]))).toEqual([...ids.keys()]);
    const listed = await allPages(`&product_id=${productId}`, 100);
    for (const [i, record] of body.entries()) {
      const buyer = ids.get(Number(record[0])) as string;
      const inert = /^[=+\-@\t\r]/.test(buyer) ? `'${buyer}` : buyer;
      expect(record[3]).toBe(inert);
      const o = listed[i] as AdminOrder & Record<string, unknown>;
      expect(record).toEqual([
        String(o.order_id),
        String(o.hold_id),
        String(productId),
        inert,
        "1",
        "100",
        "100",
        o.status,
        o.created_at,
        o.updated_at,
      ]);
    }
    expect(body.find((r) => Number(r[0]) === paidId)?.[7]).toBe("paid");

    const filtered = await api.raw(`/api/admin/orders/export?product_id=${productId}&status=paid`, {
      headers: admin,
    });
    const paidOnly = parseCsvStrict(await filtered.text()).slice(1);
    expect(paidOnly.map((r) => Number(r[0]))).toEqual([paidId]);
  });

  test("an export of several batches has every order once, in id order", async () => {
    const productId = await limitedProduct(api, 10, null);
    const total = 2_345;
    // Bulk rows straight in the tables: the export reads, so how they were made does not matter.
    const [holdInsert] = (await ctx.sql.query(
      `INSERT INTO holds (product_id, buyer_id, qty, status, expires_at)
       VALUES ${Array.from({ length: total }, () => "(?, 'bulk', 1, 'converted', NOW(3))").join(",")}`,
      Array.from({ length: total }, () => productId),
    )) as unknown as [{ insertId: number }];
    const firstHold = holdInsert.insertId;
    await ctx.sql.query(
      `INSERT INTO orders (hold_id, product_id, buyer_id, qty, unit_price_cents, total_cents, status)
       VALUES ${Array.from({ length: total }, (_, i) => `(${firstHold + i}, ${productId}, 'bulk', 1, 100, 100, 'paid')`).join(",")}`,
    );
    const response = await api.raw(`/api/admin/orders/export?product_id=${productId}`, {
      headers: admin,
    });
    const ids = parseCsvStrict(await response.text())
      .slice(1)
      .map((r) => Number(r[0]));
    expect(ids).toHaveLength(total);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(total);
    const inDatabase = await rows<{ id: number }>(
      ctx.sql,
      "SELECT id FROM orders WHERE product_id = ? ORDER BY id",
      [productId],
    );
    expect(ids).toEqual(inDatabase.map((r) => r.id));
    // Rows made outside the service have no events and no stock: gone before the invariants.
    await ctx.sql.query("DELETE FROM orders WHERE product_id = ?", [productId]);
    await ctx.sql.query("DELETE FROM holds WHERE product_id = ?", [productId]);
  });
});

describe("the operator's cancel", () => {
  test("a pending order: cancelled, units back in stock and in the buyer's allowance, one order.cancelled with reason operator, one audit entry", async () => {
    const productId = await limitedProduct(api, 10, 2);
    const alice = bearer(await hs256({ sub: "allowance" }));
    const orderId = await order(productId, "allowance", 2);
    const over = await api.post("/api/holds", { product_id: productId, qty: 1 }, alice);
    expect(over.body.code).toBe("buyer_limit_exceeded");

    const cancelled = await cancel(orderId, { note: "customer called" });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ order_id: orderId, status: "cancelled", qty: 2 });
    expect((await api.get(`/api/products/${productId}`)).body.available).toBe(10);
    const [event] = await rows<{ data: string }>(
      ctx.sql,
      "SELECT data FROM merchant_events WHERE order_id = ? AND type = 'order.cancelled'",
      [orderId],
    );
    expect(JSON.parse(event?.data as string)).toEqual({
      ...(cancelled.body as Record<string, unknown>),
      reason: "operator",
    });
    const [entry] = await rows<{ action: string; changes: string; note: string }>(
      ctx.sql,
      "SELECT action, changes, note FROM audit_entries WHERE target = ?",
      [`order:${orderId}`],
    );
    expect(entry).toEqual({
      action: "order.cancel",
      changes: JSON.stringify({ status: ["pending", "cancelled"] }),
      note: "customer called",
    });
    // The allowance is back: the buyer may hold two again.
    expect((await api.post("/api/holds", { product_id: productId, qty: 2 }, alice)).status).toBe(
      201,
    );

    const again = await cancel(orderId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(cancelled.body);
    expect(
      await count(ctx.sql, "SELECT COUNT(*) AS n FROM merchant_events WHERE order_id = ?", [
        orderId,
      ]),
    ).toBe(2);
    expect(
      await count(ctx.sql, "SELECT COUNT(*) AS n FROM audit_entries WHERE target = ?", [
        `order:${orderId}`,
      ]),
    ).toBe(1);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a paid order is 409 order_already_paid, an unknown one 404, a bad note 422; nothing changed", async () => {
    const productId = await limitedProduct(api, 10, null);
    const orderId = await order(productId, "payer");
    await pay(orderId, "succeeded");
    const audits = await count(ctx.sql, "SELECT COUNT(*) AS n FROM audit_entries");
    const paid = await cancel(orderId);
    expectProblem(paid, 409, {
      title: "Order already paid",
      code: "order_already_paid",
      detail: `Order ${orderId} is paid: a refund is made at the payment provider.`,
      order_id: orderId,
    });
    const missing = await cancel(999_999);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("order_not_found");
    expect((await cancel(orderId, { note: 5 })).status).toBe(422);
    expect((await cancel(orderId, { reason: "x" })).status).toBe(422);
    const [row] = await rows<{ status: string }>(
      ctx.sql,
      "SELECT status FROM orders WHERE id = ?",
      [orderId],
    );
    expect(row?.status).toBe("paid");
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM audit_entries")).toBe(audits);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a cancel with no body at all is the same as {}; a body sent is still read, so one not JSON is 415 and one that does not parse 400", async () => {
    const productId = await limitedProduct(api, 10, null);
    const orderId = await order(productId, "bodiless");
    const url = `${ctx.baseUrl}/api/admin/orders/${orderId}/cancel`;
    const asText = await fetch(url, {
      method: "POST",
      headers: { ...admin, "content-type": "text/plain" },
      body: "cancel it",
    });
    expect(asText.status).toBe(415);
    const broken = await fetch(url, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: "{",
    });
    expect(broken.status).toBe(400);
    expect(
      (
        await rows<{ status: string }>(ctx.sql, "SELECT status FROM orders WHERE id = ?", [orderId])
      )[0]?.status,
    ).toBe("pending");

    const bare = await fetch(url, { method: "POST", headers: admin });
    expect(bare.status).toBe(200);
    expect(await bare.json()).toMatchObject({ order_id: orderId, status: "cancelled" });
    // A chunked body of no bytes at all is no body either (sent by hand: fetch sends a length).
    const other = await order(productId, "bodiless");
    const { port } = new URL(ctx.baseUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(
          `POST /api/admin/orders/${other}/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${admin.authorization}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
        );
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString();
      });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    const [entry] = await rows<{ note: string | null }>(
      ctx.sql,
      "SELECT note FROM audit_entries WHERE target = ?",
      [`order:${orderId}`],
    );
    expect(entry).toEqual({ note: null });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("racing a payment webhook for the same order: one wins, the other is a conflict or a no-op; invariants hold", async () => {
    const productId = await limitedProduct(api, 200, null);
    const pairs: { orderId: number; status: "succeeded" | "failed" }[] = [];
    for (let i = 0; i < 24; i++) {
      pairs.push({
        orderId: await order(productId, `racer-${i}`),
        status: i % 2 ? "failed" : "succeeded",
      });
    }
    const results: [Reply, Reply][] = await Promise.all(
      pairs.map(({ orderId, status }) => Promise.all([cancel(orderId), pay(orderId, status)])),
    );
    const seen = new Set<string>();
    for (const [i, [cancelled, paid]] of results.entries()) {
      const { orderId, status } = pairs[i] as (typeof pairs)[number];
      const [row] = await rows<{ status: string }>(
        ctx.sql,
        "SELECT status FROM orders WHERE id = ?",
        [orderId],
      );
      expect(paid.status).toBe(200);
      if (status === "succeeded") {
        if (cancelled.status === 200) {
          // The cancel came first: the payment is a conflict, a refund to make.
          expect([row?.status, paid.body.applied, paid.body.conflict]).toEqual([
            "cancelled",
            false,
            true,
          ]);
          seen.add("cancel first");
        } else {
          expect([cancelled.status, cancelled.body.code]).toEqual([409, "order_already_paid"]);
          expect([row?.status, paid.body.applied]).toEqual(["paid", true]);
          seen.add("payment first");
        }
      } else {
        // Both cancel: whichever came second changed nothing.
        expect([cancelled.status, cancelled.body.status, row?.status]).toEqual([
          200,
          "cancelled",
          "cancelled",
        ]);
        expect(paid.body.conflict).toBeUndefined();
      }
    }
    expect(seen.size).toBeGreaterThan(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
