import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { databaseNow, iso } from "./helpers/clock";
import { admin, client, countBy, type Reply } from "./helpers/fixtures";
import { createTestContext, type Running, rows, serve, type TestContext } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { type ServerProcess, startServer } from "./helpers/processes";

// The opening of a sale under load, across processes whose clocks disagree: the database's
// clock alone opens it (contract: POST /api/holds, invariant 6).

let ctx: TestContext;
let served: Running;
const processes: ServerProcess[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ DB_POOL_SIZE: "16" });
  served = serve(ctx.app);
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await served.stop();
  await ctx.close();
});

const dbNow = () => databaseNow(ctx.sql);

async function createProduct(stock: number, opensAt: number): Promise<number> {
  const created = await client(served.baseUrl).post(
    "/api/admin/products",
    { name: "Opening sneaker", price_cents: 100, stock, sale_starts_at: iso(opensAt) },
    admin,
  );
  expect(created.status).toBe(201);
  return created.body.id as number;
}

/** Waves of `size` concurrent holds every `everyMs`, until `untilDb` passes on the database's clock. */
async function waves(
  bases: string[],
  productId: number,
  size: number,
  everyMs: number,
  untilDb: number,
) {
  const answers: (Reply & { base: string })[] = [];
  for (let wave = 0; wave < 100 && (await dbNow()) < untilDb; wave++) {
    const sent = bases.flatMap((base) =>
      Array.from({ length: size }, async () => ({
        ...(await client(base).post("/api/holds", { product_id: productId, qty: 1 })),
        base,
      })),
    );
    answers.push(...(await Promise.all(sent)));
    await Bun.sleep(everyMs);
  }
  return answers;
}

const outcome = (reply: Reply) => `${reply.status} ${String(reply.body.code ?? "")}`.trim();

async function holdsBefore(productId: number, opensAt: number): Promise<number> {
  const [row] = await rows<{ n: number }>(
    ctx.sql,
    "SELECT COUNT(*) AS n FROM holds WHERE product_id = ? AND created_at < ?",
    [productId, new Date(opensAt)],
  );
  return Number(row?.n);
}

describe("races: the opening", () => {
  test("a storm across the opening grants exactly the stock, none before it", async () => {
    const opensAt = (await dbNow()) + 1500;
    const productId = await createProduct(100, opensAt);
    const answers = await waves([served.baseUrl], productId, 100, 150, opensAt + 1500);
    const outcomes = countBy(answers, outcome);
    console.log("opening storm:", JSON.stringify(outcomes));
    expect(outcomes["201"]).toBe(100);
    expect(outcomes["409 sale_not_started"]).toBeGreaterThan(0);
    const allowed = [
      "201",
      "409 sale_not_started",
      "409 insufficient_stock",
      "429 too_many_requests",
    ];
    expect(Object.keys(outcomes).filter((o) => !allowed.includes(o))).toEqual([]);
    expect(await holdsBefore(productId, opensAt)).toBe(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("two processes, one clock 5 s fast and one 5 s slow, never grant before the database opens the sale", async () => {
    const [fast, slow] = await Promise.all([
      startServer(ctx.url, { TEST_CLOCK_OFFSET_MS: "5000", PRODUCT_CACHE_TTL_MS: "500" }),
      startServer(ctx.url, { TEST_CLOCK_OFFSET_MS: "-5000", PRODUCT_CACHE_TTL_MS: "500" }),
    ]);
    processes.push(fast, slow);
    const opensAt = (await dbNow()) + 2000;
    const productId = await createProduct(60, opensAt);
    const answers = await waves([fast.base, slow.base], productId, 10, 100, opensAt + 1000);
    const fastOutcomes = countBy(
      answers.filter((a) => a.base === fast.base),
      outcome,
    );
    console.log(
      "skewed processes:",
      JSON.stringify(
        countBy(answers, (a) => `${a.base === fast.base ? "fast" : "slow"} ${outcome(a)}`),
      ),
    );
    // The fast process believes the sale open for its last 5 s: the database refused it.
    expect(fastOutcomes["409 sale_not_started"]).toBeGreaterThan(0);
    expect(fastOutcomes["201"]).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(await holdsBefore(productId, opensAt)).toBe(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("moving the start earlier opens the sale in every process within PRODUCT_CACHE_TTL_MS", async () => {
    const [a, b] = await Promise.all([
      startServer(ctx.url, { PRODUCT_CACHE_TTL_MS: "500" }),
      startServer(ctx.url, { PRODUCT_CACHE_TTL_MS: "500" }),
    ]);
    processes.push(a, b);
    const productId = await createProduct(10, Date.now() + 3_600_000);
    const hold = (base: string) =>
      client(base).post("/api/holds", { product_id: productId, qty: 1 });
    // Both processes refuse, the second time on from their copy of the window.
    for (const base of [a.base, b.base]) {
      for (let i = 0; i < 3; i++) expect((await hold(base)).body.code).toBe("sale_not_started");
    }
    const moved = await client(a.base).patch(
      `/api/admin/products/${productId}`,
      { sale_starts_at: iso((await dbNow()) - 1000) },
      admin,
    );
    expect(moved.body.sale_state).toBe("live");
    expect((await hold(a.base)).status).toBe(201);
    // The other process learns of it when its copy expires; bounded, not timed.
    let other: Reply | undefined;
    for (let i = 0; i < 100; i++) {
      other = await hold(b.base);
      if (other.status !== 409) break;
      await Bun.sleep(50);
    }
    expect(other?.status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
