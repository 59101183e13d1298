import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { admin, client } from "./helpers/fixtures";
import { createTestContext, rows, type TestContext, WEBHOOK_SECRET } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { freePort } from "./helpers/private-mariadb";
import { holdDeclaredTwice, sendRaw } from "./helpers/raw-http";

// Runtime neutrality: the same createApp, bundled for Node and served by @hono/node-server.

const root = join(import.meta.dir, "..");

describe("createApp on Node (@hono/node-server)", () => {
  let ctx: TestContext;
  let node: Subprocess<"ignore", "pipe", "inherit"> | undefined;
  let base = "";
  let runtime = "";
  let outDir = "";

  beforeAll(async () => {
    const nodeBin = Bun.which("node");
    if (!nodeBin) throw new Error("node is missing: run bash scripts/test.sh, which installs it");
    ctx = await createTestContext();
    outDir = join(root, "build", `node-smoke-${process.pid}`);
    mkdirSync(outDir, { recursive: true });
    const bundle = Bun.spawnSync(
      [process.execPath, "build", "test/node/server.ts", "--target=node", "--outdir", outDir],
      { cwd: root, stderr: "pipe" },
    );
    if (bundle.exitCode !== 0) throw new Error(`bun build failed: ${bundle.stderr.toString()}`);
    const port = await freePort();
    node = Bun.spawn([nodeBin, join(outDir, "server.js")], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: ctx.url,
        PORT: String(port),
        ADMIN_TOKEN: admin.authorization.slice("Bearer ".length),
        WEBHOOK_SECRET,
        LOG_LEVEL: "warn",
      },
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = node.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const started = JSON.parse(new TextDecoder().decode(value)) as { runtime: string };
    runtime = started.runtime;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    node?.kill();
    await node?.exited;
    await ctx?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  test("product read, hold, order and webhook against the real database", async () => {
    expect(runtime).toStartWith("node v");
    const api = client(base);
    const created = await api.post(
      "/api/admin/products",
      { name: "Node sneaker", price_cents: 500, stock: 5 },
      admin,
    );
    expect(created.status).toBe(201);
    const productId = created.body.id as number;
    const product = await api.get(`/api/products/${productId}`);
    expect(product.status).toBe(200);
    expect(product.body.available).toBe(5);
    expect(product.headers.get("x-request-id")).toBeTruthy();

    const hold = await api.post("/api/holds", { product_id: productId, qty: 2 });
    expect(hold.status).toBe(201);
    const order = await api.post("/api/orders", { hold_id: hold.body.hold_id });
    expect(order.status).toBe(201);
    const paid = await api.webhook({
      idempotency_key: "node-evt-1",
      order_id: order.body.order_id,
      status: "succeeded",
    });
    expect(paid.body).toEqual({
      order_id: order.body.order_id,
      order_status: "paid",
      applied: true,
      duplicate: false,
    });
    const bad = await api.post("/api/holds", { product_id: productId, qty: "2" });
    expect(bad.status).toBe(422);
    expect(bad.headers.get("content-type")).toBe("application/problem+json");
    // The body limit trusts Content-Length because Node, like Bun, refuses it beside chunking.
    expect(await sendRaw(base, holdDeclaredTwice(productId))).toStartWith("HTTP/1.1 400");

    const [row] = await rows<{ status: string }>(
      ctx.sql,
      "SELECT status FROM orders WHERE id = ?",
      [order.body.order_id],
    );
    expect(row?.status).toBe("paid");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
    console.info(`runtime smoke test: passed on ${runtime}`);
  });
});
