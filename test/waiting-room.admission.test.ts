import { describe, expect, test } from "bun:test";
import { useServers } from "./helpers/apps";
import { HS256 } from "./helpers/buyers";
import { databaseNow, iso } from "./helpers/clock";
import { admin, type Client } from "./helpers/fixtures";
import { invariantViolations } from "./helpers/invariants";
import { sumMetric } from "./helpers/processes";
import { openEvents } from "./helpers/sse";
import { until } from "./helpers/until";
import { as, oneTo, roomProduct, type TicketRow, tickets } from "./helpers/waiting-room";

// The draw at the opening and admission at the set rate, read from the admitted_at values the
// database holds (written by holds and by each process's admission job; nobody reads a ticket
// here, so the job alone runs the draw and writes the admissions).

const { ctx, apis, servers } = useServers(1, HS256);

/** Spearman's rank correlation of two rankings of the same n items (no ties). */
function spearman(a: number[], b: number[]): number {
  const n = a.length;
  const d2 = a.reduce((sum, x, i) => sum + (x - (b[i] as number)) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

/** The product's tickets once all `n` have their admission written (or as they stand at the end). */
function admittedAll(productId: number, n: number): Promise<TicketRow[]> {
  return until(
    () => tickets(ctx.sql, productId),
    (stored) => stored.filter((t) => t.admitted_at !== null).length === n,
    { tries: 300, everyMs: 100 },
  );
}

describe("the draw and admission", () => {
  test("early joiners are placed by a draw at the opening, in an order arrival does not predict, and admitted at the rate", async () => {
    const api = apis[0] as Client;
    const rate = 50;
    const n = 200;
    const opening = (await databaseNow(ctx.sql)) + 12_000;
    const id = await roomProduct(
      api,
      { admit_per_second: rate, admission_seconds: 3600 },
      { sale_starts_at: iso(opening) },
      1000,
    );
    const buyers = await Promise.all(Array.from({ length: n }, (_, i) => as(`early-${i}`)));
    // One at a time, so the arrival order is known: ticket ids follow it.
    for (const h of buyers) {
      const joined = await api.post(`/api/products/${id}/queue`, undefined, h);
      expect(joined.status).toBe(201);
      expect(joined.body.position).toBeNull();
      expect(joined.body.ahead).toBeNull();
    }
    expect(await databaseNow(ctx.sql)).toBeLessThan(opening);
    // The draw comes from the job (nobody reads a ticket): within about a second of the opening.
    await until(
      () => tickets(ctx.sql, id),
      (rows) => rows.every((t) => t.position !== null),
      { tries: 400, everyMs: 50 },
    );
    const placedBy = (await databaseNow(ctx.sql)) - opening;
    console.info(`draw of ${n}: placed by ${placedBy} ms after the opening`);
    expect(placedBy).toBeLessThan(5000);
    const stored = await admittedAll(id, n);
    const byArrival = [...stored].sort((a, b) => a.id - b.id);
    const positions = byArrival.map((t) => t.position as number);
    expect([...positions].sort((a, b) => a - b)).toEqual(oneTo(n));
    // For n = 200 a uniform draw gives a correlation with sd 1/sqrt(199) = 0.07: 0.35 is 5 sd.
    const rho = spearman(oneTo(n), positions);
    console.info(`draw of ${n}: Spearman rank correlation with arrival ${rho.toFixed(3)}`);
    expect(Math.abs(rho)).toBeLessThan(0.35);
    const byPosition = [...stored].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
    const times = byPosition.map((t) => (t.admitted_at as Date).getTime());
    expect(Math.min(...times)).toBeGreaterThanOrEqual(opening);
    for (const [i, t] of times.entries()) {
      if (i > 0) expect(t).toBeGreaterThanOrEqual(times[i - 1] as number);
      // Over any span, at most the rate's worth plus one second's, and (the line never
      // emptied: everyone joined before the opening) at least the rate's worth less one second's.
      for (let j = i; j < times.length; j += 7) {
        const span = ((times[j] as number) - t) / 1000;
        expect(j - i + 1).toBeLessThanOrEqual(rate * span + rate);
        expect(j - i + 1).toBeGreaterThanOrEqual(rate * span - rate);
      }
    }
    for (const row of stored) {
      expect((row.admitted_until as Date).getTime() - (row.admitted_at as Date).getTime()).toBe(
        3_600_000,
      );
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  }, 60_000);

  test("a paused line admits nobody; a rate set later applies from then on", async () => {
    const api = apis[0] as Client;
    const id = await roomProduct(api, { admit_per_second: 0 }, {}, 1000);
    const buyers = await Promise.all(Array.from({ length: 40 }, (_, i) => as(`later-${i}`)));
    for (const h of buyers) await api.post(`/api/products/${id}/queue`, undefined, h);
    await Bun.sleep(1500);
    expect((await tickets(ctx.sql, id)).filter((t) => t.admitted_at !== null)).toEqual([]);
    const resumed = await databaseNow(ctx.sql);
    const changed = await api.patch(
      `/api/admin/products/${id}`,
      { waiting_room: { admit_per_second: 20, admission_seconds: 3600 } },
      admin,
    );
    expect(changed.status).toBe(200);
    const stored = await admittedAll(id, 40);
    const times = stored.map((t) => (t.admitted_at as Date).getTime()).sort((a, b) => a - b);
    expect(times[0]).toBeGreaterThanOrEqual(resumed);
    const span = ((times[39] as number) - (times[0] as number)) / 1000;
    expect(40).toBeLessThanOrEqual(20 * span + 20);
    expect(40).toBeGreaterThanOrEqual(20 * span - 20);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  }, 60_000);

  test("the live stream carries the line (joined, serving) as it moves; the metrics count it", async () => {
    const api = apis[0] as Client;
    const base = (servers[0] as { base: string }).base;
    const id = await roomProduct(api, { admit_per_second: 0 }, {}, 1000);
    const admittedBefore = await sumMetric([base], "waiting_room_tickets_admitted_total");
    const joinedBefore = await sumMetric([base], "waiting_room_tickets_joined_total");
    const stream = await openEvents(`${base}/api/products/${id}/events`);
    try {
      const line = (e: { data: Record<string, unknown> }) =>
        e.data.waiting_room as { joined: number; serving: number } | null;
      await stream.waitFor((e) => line(e)?.joined === 0);
      for (let i = 0; i < 5; i++) {
        await api.post(`/api/products/${id}/queue`, undefined, await as(`watched-${i}`));
      }
      await stream.waitFor((e) => line(e)?.joined === 5 && line(e)?.serving === 0, 10_000);
      const waiting = await until(
        () => sumMetric([base], "waiting_room_line_length", `product_id="${id}"`),
        (n) => n === 5,
        { tries: 100, everyMs: 100 },
      );
      expect(waiting).toBe(5);
      await api.patch(
        `/api/admin/products/${id}`,
        { waiting_room: { admit_per_second: 1000 } },
        admin,
      );
      await stream.waitFor((e) => line(e)?.serving === 5, 10_000);
      await admittedAll(id, 5);
      const ids = stream.events.map((e) => e.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      stream.close();
    }
    expect((await sumMetric([base], "waiting_room_tickets_joined_total")) - joinedBefore).toBe(5);
    await until(
      () => sumMetric([base], "waiting_room_tickets_admitted_total"),
      (n) => n - admittedBefore === 5,
      { tries: 100, everyMs: 100 },
    );
    expect((await sumMetric([base], "waiting_room_tickets_admitted_total")) - admittedBefore).toBe(
      5,
    );
    await until(
      () => sumMetric([base], "waiting_room_line_length", `product_id="${id}"`),
      (n) => n === 0,
      { tries: 100, everyMs: 100 },
    );
    expect(await sumMetric([base], "waiting_room_line_length", `product_id="${id}"`)).toBe(0);
  }, 60_000);

  test("an admission that ends without a hold is counted once as expired unused", async () => {
    const api = apis[0] as Client;
    const base = (servers[0] as { base: string }).base;
    const before = await sumMetric([base], "waiting_room_tickets_expired_unused_total");
    const id = await roomProduct(api, { admit_per_second: 1000, admission_seconds: 10 }, {}, 10);
    const [holder, idle] = [await as("ends-holder"), await as("ends-idle")];
    for (const h of [holder, idle]) await api.post(`/api/products/${id}/queue`, undefined, h);
    const held = await until(
      () => api.post("/api/holds", { product_id: id, qty: 1 }, holder),
      (r) => r.status === 201,
      { tries: 50, everyMs: 50 },
    );
    expect(held.status).toBe(201);
    // Both admissions end 10 s after they began; only the idle buyer's was unused.
    const counted = await until(
      () => sumMetric([base], "waiting_room_tickets_expired_unused_total"),
      (n) => n - before >= 1,
      { tries: 200, everyMs: 100 },
    );
    expect(counted - before).toBe(1);
    await Bun.sleep(1500);
    expect((await sumMetric([base], "waiting_room_tickets_expired_unused_total")) - before).toBe(1);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  }, 60_000);
});
