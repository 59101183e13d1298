import { afterAll, describe, expect, test } from "bun:test";
import { useServers } from "./helpers/apps";
import { HS256 } from "./helpers/buyers";
import { type Client, client } from "./helpers/fixtures";
import { invariantViolations } from "./helpers/invariants";
import { type ServerProcess, startServer } from "./helpers/processes";
import { as, oneTo, roomProduct, tickets } from "./helpers/waiting-room";

// Joins through real processes at once: one ticket per buyer however many times it joins, and
// positions 1..N without gap or repeat. Admission decided by the database's clock: processes
// whose own clocks are 5 s apart admit the same buyers at the same moments.

const { ctx, apis } = useServers(2, HS256);

describe("joins through two processes", () => {
  test("one buyer joining 20 times through each process at once gets one ticket", async () => {
    const id = await roomProduct(apis[0] as Client, { admit_per_second: 0 });
    const alice = await as("alice");
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (apis[i % 2] as Client).post(`/api/products/${id}/queue`, undefined, alice),
      ),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(39).fill(200), 201].sort());
    expect(new Set(replies.map((r) => r.body.ticket_id)).size).toBe(1);
    const stored = await tickets(ctx.sql, id);
    expect(stored.map((t) => [t.buyer_id, t.position])).toEqual([["alice", 1]]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("1,000 buyers joining through two processes at once: positions 1..1,000", async () => {
    const id = await roomProduct(apis[0] as Client, { admit_per_second: 0 });
    const headers = await Promise.all(Array.from({ length: 1000 }, (_, i) => as(`b${i}`)));
    const replies = await Promise.all(
      headers.map((h, i) =>
        (apis[i % 2] as Client).post(`/api/products/${id}/queue`, undefined, h),
      ),
    );
    expect(replies.filter((r) => r.status !== 201).map((r) => r.status)).toEqual([]);
    const positions = replies.map((r) => r.body.position as number).sort((a, b) => a - b);
    expect(positions).toEqual(oneTo(1000));
    const stored = await tickets(ctx.sql, id);
    expect(stored.map((t) => t.position).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(oneTo(1000));
    expect(new Set(stored.map((t) => t.buyer_id)).size).toBe(1000);
    // Each buyer's answer names the ticket stored for them.
    const byBuyer = new Map(stored.map((t) => [t.buyer_id, t.id]));
    expect(replies.every((r) => byBuyer.get(String(r.body.buyer_id)) === r.body.ticket_id)).toBe(
      true,
    );
    const product = await (apis[1] as Client).get(`/api/products/${id}`);
    expect(product.body.waiting_room).toMatchObject({ joined: 1000 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  }, 60_000);
});

describe("a ticket admitted before the line is rebased, read through another process", () => {
  test("each process shows the admission the database wrote, not one reckoned from the new line", async () => {
    const [first, second] = apis as [Client, Client];
    const id = await roomProduct(first, { admit_per_second: 10 });
    const [early, later, last] = await Promise.all(["early", "later", "last"].map((b) => as(b)));
    expect((await first.post(`/api/products/${id}/queue`, undefined, early)).status).toBe(201);
    // Its position is admitted 100 ms on and the line then stands empty; this process keeps
    // its copy of the ticket, with no admission on it.
    await Bun.sleep(300);
    // The other process's join writes that admission and starts the line again from now.
    expect((await second.post(`/api/products/${id}/queue`, undefined, later)).status).toBe(201);
    // This process learns the new line through a join of its own.
    expect((await first.post(`/api/products/${id}/queue`, undefined, last)).status).toBe(201);
    const [row] = (await tickets(ctx.sql, id)).filter((t) => t.position === 1);
    const admittedAt = row?.admitted_at?.toISOString();
    expect(admittedAt).toBeDefined();
    for (const api of [first, second]) {
      const read = await api.get(`/api/products/${id}/queue`, early);
      expect([read.body.position, read.body.admitted_at]).toEqual([1, admittedAt]);
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("a rejoin answered in the batch that rebases the line", () => {
  test("the admitted buyer's answer shows the admission written, not one from the new segment", async () => {
    const [first] = apis as [Client, Client];
    const id = await roomProduct(first, { admit_per_second: 10 });
    const [opener, rejoiner] = await Promise.all([as("opener"), as("rejoiner")]);
    for (const h of [opener, rejoiner]) {
      expect((await first.post(`/api/products/${id}/queue`, undefined, h)).status).toBe(201);
    }
    // Both are admitted 200 ms on, nothing written yet, and the line then stands empty.
    await Bun.sleep(400);
    // The opener's rejoin is served alone; what arrives meanwhile is served by the next
    // transaction, which reads the rejoiner's admitted ticket and rebases the line for the
    // newcomers.
    const opening = first.post(`/api/products/${id}/queue`, undefined, opener);
    const newcomers = await Promise.all(Array.from({ length: 8 }, (_, i) => as(`newcomer-${i}`)));
    const [again] = await Promise.all([
      first.post(`/api/products/${id}/queue`, undefined, rejoiner),
      ...newcomers.map((h) => first.post(`/api/products/${id}/queue`, undefined, h)),
    ]);
    expect((await opening).status).toBe(200);
    const [row] = (await tickets(ctx.sql, id)).filter((t) => t.position === 2);
    expect(again?.status).toBe(200);
    expect([again?.body.position, again?.body.admitted_at]).toEqual([
      2,
      row?.admitted_at?.toISOString(),
    ]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("clocks apart", () => {
  let skewed: ServerProcess | undefined;
  afterAll(async () => {
    await skewed?.stop("SIGKILL");
  });

  test("processes whose clocks are 5 s apart admit the same buyers at the same moments", async () => {
    skewed = await startServer(ctx.url, { ...HS256, TEST_CLOCK_OFFSET_MS: "5000" });
    const plain = apis[0] as Client;
    const ahead = client(skewed.base);
    const id = await roomProduct(plain, { admit_per_second: 10 }, {}, 1000);
    const buyers = await Promise.all(Array.from({ length: 20 }, (_, i) => as(`c${i}`)));
    for (const [i, h] of buyers.entries()) {
      expect(
        (await (i % 2 ? ahead : plain).post(`/api/products/${id}/queue`, undefined, h)).status,
      ).toBe(201);
    }
    // Each buyer asks for a hold through both processes until granted (about 2 s at 10/s).
    const granted = await Promise.all(
      buyers.map(async (h) => {
        for (let i = 0; i < 100; i++) {
          const [a, b] = await Promise.all([
            plain.post("/api/holds", { product_id: id, qty: 1 }, h),
            ahead.post("/api/holds", { product_id: id, qty: 1 }, h),
          ]);
          for (const reply of [a, b]) {
            if (reply.status !== 201) expect(reply.body.code).toBe("not_admitted");
          }
          if (a.status === 201 || b.status === 201) return true;
          await Bun.sleep(100);
        }
        return false;
      }),
    );
    expect(granted.every(Boolean)).toBe(true);
    const [viaPlain, viaAhead] = await Promise.all(
      [plain, ahead].map((api) =>
        Promise.all(buyers.map((h) => api.get(`/api/products/${id}/queue`, h))),
      ),
    );
    const moments = (replies: typeof viaPlain) =>
      (replies ?? []).map((r) => [r.body.position, r.body.admitted_at]);
    expect(moments(viaAhead)).toEqual(moments(viaPlain));
    const stored = await tickets(ctx.sql, id);
    for (const reply of viaPlain ?? []) {
      const row = stored.find((t) => t.id === reply.body.ticket_id);
      expect(row?.admitted_at?.toISOString()).toBe(reply.body.admitted_at as string);
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  }, 60_000);
});
