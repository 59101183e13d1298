/**
 * Two checkouts' CPU per hold, side by side in one process, for a change too small for the
 * machine's spread between wrk runs: each checkout's app (its test harness: a fresh, migrated
 * database, the real app and lifecycle) takes anonymous holds on a hot product through
 * `app.fetch`, 256 in flight, in alternating rounds, so that whatever else runs on the machine
 * weighs on both alike. CPU is this process's user + system time over a round, per hold
 * granted; the HTTP server and socket are left out, the database round trips are in.
 *
 * Usage: bun bench/holds-ab.ts <before checkout> <after checkout>
 * (AB_ROUNDS rounds per side, default 12, of AB_HOLDS holds, default 20,000)
 */
import { argv, cpuUsage, env, exit } from "node:process";

type App = { fetch: (request: Request) => Response | Promise<Response> };
type Context = { app: App; close: () => Promise<void> };
type Side = { dir: string; ctx: Context; productId: number; cpu: number[]; rate: number[] };

const [before, after] = argv.slice(2);
if (!before || !after) throw new Error("usage: bun bench/holds-ab.ts <before dir> <after dir>");
const ROUNDS = Number(env.AB_ROUNDS ?? 12);
const HOLDS = Number(env.AB_HOLDS ?? 20_000);
const IN_FLIGHT = 256;
const ADMIN = { authorization: "Bearer test-admin-token-0123456789" };

async function sideOf(dir: string): Promise<Side> {
  const harness = (await import(`${dir}/test/helpers/harness.ts`)) as {
    createTestContext: (env: Record<string, string>) => Promise<Context>;
  };
  const ctx = await harness.createTestContext({ HOLD_TTL_SECONDS: "3600", DB_POOL_SIZE: "8" });
  const created = await ctx.app.fetch(
    new Request("http://bench/api/admin/products", {
      method: "POST",
      headers: { ...ADMIN, "content-type": "application/json" },
      body: JSON.stringify({ name: "Bench sneaker", price_cents: 12900, stock: 100_000_000 }),
    }),
  );
  const { id } = (await created.json()) as { id: number };
  return { dir, ctx, productId: id, cpu: [], rate: [] };
}

/** One round of HOLDS holds: this process's CPU per hold granted, and holds a second. */
async function round(side: Side): Promise<{ cpu: number; rate: number }> {
  const body = JSON.stringify({ product_id: side.productId, qty: 1 });
  let sent = 0;
  let granted = 0;
  const started = performance.now();
  const start = cpuUsage();
  const client = async () => {
    while (sent < HOLDS) {
      sent++;
      const res = await side.ctx.app.fetch(
        new Request("http://bench/api/holds", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        }),
      );
      if (res.status !== 201) throw new Error(`hold: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      granted++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, client));
  const used = cpuUsage(start);
  return {
    cpu: (used.user + used.system) / granted,
    rate: (granted * 1000) / (performance.now() - started),
  };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const figures = (values: number[]) => values.map((v) => v.toFixed(2)).join(" ");

const sides = [await sideOf(before), await sideOf(after)];
try {
  for (const side of sides) await round(side); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
      const { cpu, rate } = await round(side);
      side.cpu.push(cpu);
      side.rate.push(rate);
    }
  }
  for (const side of sides) {
    console.log(
      `${side.dir}: CPU per hold median ${median(side.cpu).toFixed(1)} µs, ${median(side.rate).toFixed(0)} holds/s`,
    );
  }
  const [a, b] = sides as [Side, Side];
  const ratios = a.cpu.map((cpu, i) => (b.cpu[i] ?? Number.NaN) / cpu);
  console.log(
    `after/before, round by round: median ${median(ratios).toFixed(3)} [${figures(ratios)}]`,
  );
} finally {
  for (const side of sides) await side.ctx.close();
}
exit(0);
