import { describe, expect, test } from "bun:test";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "../client";
import { clientTypes } from "../scripts/client-types";
import { ADMIN_TOKEN, useServedContext } from "./helpers/harness";

const root = join(import.meta.dir, "..");

describe("the typed client package", () => {
  test("client/api.ts is what `bun run client:types` writes from the route declarations", () => {
    expect(readFileSync(join(root, "client/api.ts"), "utf8")).toBe(clientTypes());
  });

  test("compiles with hono as its only dependency, its type test included", () => {
    const dir = mkdtempSync(join(tmpdir(), "flash-sale-client-"));
    try {
      const pkg = JSON.parse(readFileSync(join(root, "client/package.json"), "utf8"));
      expect(Object.keys(pkg.dependencies)).toEqual(["hono"]);
      cpSync(join(root, "client"), join(dir, "client"), { recursive: true });
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(join(root, "node_modules/hono"), join(dir, "node_modules/hono"));
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: "Preserve",
            moduleResolution: "bundler",
            lib: ["ES2023", "DOM"],
            types: [],
            strict: true,
            noEmit: true,
            skipLibCheck: true,
          },
          include: ["client"],
        }),
      );
      const tsc = Bun.spawnSync(["bun", join(root, "node_modules/typescript/bin/tsc"), "-p", dir], {
        cwd: dir,
      });
      expect(tsc.stdout.toString() + tsc.stderr.toString()).toBe("");
      expect(tsc.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("createClient against a real server", () => {
  const served = useServedContext();

  test("an operator creates a product, a shopper holds and orders it, each answer typed", async () => {
    const { baseUrl } = served();
    const operator = createClient(baseUrl, { token: ADMIN_TOKEN });
    const created = await operator.api.admin.products.$post({
      json: { name: "Typed sneaker", price_cents: 12900, stock: 10 },
    });
    if (created.status !== 201) throw new Error(`create: ${created.status}`);
    const product = await created.json();
    expect(product.available).toBe(10);

    const shop = createClient(baseUrl);
    const held = await shop.api.holds.$post({ json: { product_id: product.id, qty: 2 } });
    if (held.status !== 201) throw new Error(`hold: ${held.status}`);
    const hold = await held.json();
    const status: "active" | "converted" | "released" | "expired" = hold.status;
    expect(status).toBe("active");
    expect(hold.buyer_id).toBeNull();

    const read = await shop.api.products[":id"].$get({ param: { id: String(product.id) } });
    if (read.status !== 200) throw new Error(`read: ${read.status}`);
    expect((await read.json()).available).toBe(8);

    const ordered = await shop.api.orders.$post({
      header: { "idempotency-key": "typed-client-order-1" },
      json: { hold_id: hold.hold_id },
    });
    if (ordered.status !== 201) throw new Error(`order: ${ordered.status}`);
    const order = await ordered.json();
    expect(order.total_cents).toBe(25800);
    expect(order.status).toBe("pending");
  });

  test("a refusal is a typed problem document", async () => {
    const { baseUrl } = served();
    const shop = createClient(baseUrl);
    const refused = await shop.api.holds.$post({ json: { product_id: 999_999, qty: 1 } });
    if (refused.status !== 404) throw new Error(`hold: ${refused.status}`);
    const problem = await refused.json();
    const code: "product_not_found" = problem.code;
    expect(code).toBe("product_not_found");
    expect(problem.status).toBe(404);

    const reread = await shop.api.holds[":id"].$get({ param: { id: "0" } });
    if (reread.status !== 422) throw new Error(`read: ${reread.status}`);
    expect((await reread.json()).errors?.[0]?.path).toBe("id");
  });
});
