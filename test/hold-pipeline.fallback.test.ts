import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { bearer, HS256, hs256, limitedProduct } from "./helpers/buyers";
import { batching, countBy, createProduct } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { invariantViolations, storedHold } from "./helpers/invariants";

// When stock runs short in the middle of a batch: exactly the units that exist are granted (free
// ones, and those of holds whose time has passed but no sweeper has marked), no buyer is refused
// units that exist, and every refusal says what was left. With one transaction per request,
// small batches and the default.
describe.each([["1"], ["64"], ["default"]])("stock running short, HOLD_BATCH_MAX=%s", (max) => {
  const { ctx, api } = useServedApp(batching(max));

  const unitsHeld = async (productId: number) => {
    const [held] = await rows<{ units: string | null }>(
      ctx.sql,
      "SELECT SUM(qty) AS units FROM holds WHERE product_id = ? AND status = 'active'",
      [productId],
    );
    return Number(held?.units ?? 0);
  };

  test("batches asking more than is left: exactly the stock granted, refusals honest", async () => {
    const productId = await createProduct(api, 10);
    // More requests of one unit than there are units: whatever the order, one of them is
    // refused, and that is only honest once nothing is left.
    const quantities = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 1 : 3));
    const replies = await Promise.all(
      quantities.map((qty) => api.post("/api/holds", { product_id: productId, qty })),
    );
    expect(replies.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const granted = replies
      .filter((r) => r.status === 201)
      .reduce((sum, r) => sum + (r.body.qty as number), 0);
    expect(granted).toBe(10);
    replies.forEach((r, i) => {
      if (r.status !== 409) return;
      expect(r.body.code).toBe("insufficient_stock");
      expect(r.body.available as number).toBeLessThan(quantities[i] ?? 0);
    });
    expect(await unitsHeld(productId)).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("units of holds expired but not yet swept are granted, not refused", async () => {
    const productId = await createProduct(api, 10);
    const old = await Promise.all(
      Array.from({ length: 6 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
    );
    expect(old.every((r) => r.status === 201)).toBe(true);
    await ctx.sql.query(
      "UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE product_id = ?",
      [productId],
    );
    const replies = await Promise.all(
      Array.from({ length: 30 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 10, "409": 20 });
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(r.body).toMatchObject({ code: "insufficient_stock", available: 0 });
    }
    const byStatus = await rows<{ status: string; n: number }>(
      ctx.sql,
      "SELECT status, COUNT(*) AS n FROM holds WHERE product_id = ? GROUP BY status ORDER BY status",
      [productId],
    );
    expect(byStatus).toEqual([
      { status: "active", n: 10 },
      { status: "expired", n: 6 },
    ]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe.each([["1"], ["64"], ["default"]])("a buyer at the limit, HOLD_BATCH_MAX=%s", (max) => {
  const { ctx, api } = useServedApp({ ...batching(max), ...HS256, HOLD_TTL_SECONDS: "60" });

  test("a buyer at the limit whose own hold expired gets room; one whose holds live does not", async () => {
    const productId = await limitedProduct(api, 100, 2);
    const lapsed = bearer(await hs256({ sub: `lapsed-${max}` }));
    const holding = bearer(await hs256({ sub: `holding-${max}` }));
    const first = await api.post("/api/holds", { product_id: productId, qty: 2 }, lapsed);
    expect(first.status).toBe(201);
    expect((await api.post("/api/holds", { product_id: productId, qty: 2 }, holding)).status).toBe(
      201,
    );
    await ctx.sql.query("UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", [
      first.body.hold_id,
    ]);
    const replies = await Promise.all([
      ...Array.from({ length: 4 }, () =>
        api.post("/api/holds", { product_id: productId, qty: 1 }, lapsed),
      ),
      ...Array.from({ length: 4 }, () =>
        api.post("/api/holds", { product_id: productId, qty: 1 }, holding),
      ),
    ]);
    const lapsedReplies = replies.slice(0, 4);
    const holdingReplies = replies.slice(4);
    expect(countBy(lapsedReplies, (r) => r.status)).toEqual({ "201": 2, "409": 2 });
    for (const r of [...lapsedReplies, ...holdingReplies].filter((r) => r.status === 409)) {
      expect(r.body).toMatchObject({ code: "buyer_limit_exceeded", limit: 2, used: 2 });
    }
    expect(countBy(holdingReplies, (r) => r.status)).toEqual({ "409": 4 });
    const expired = await storedHold(ctx.sql, first.body.hold_id as number);
    expect(expired?.status).toBe("expired");
    const [held] = await rows<{ units: string }>(
      ctx.sql,
      "SELECT SUM(qty) AS units FROM holds WHERE product_id = ? AND status = 'active'",
      [productId],
    );
    expect(held?.units).toBe("4");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
