import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { client, createHold, createProduct } from "./helpers/fixtures";
import { createTestContext, type TestContext } from "./helpers/harness";
import { promtool, requirePromtool } from "./helpers/promtool";

// What Prometheus itself says about /metrics and the shipped alerting rules (Debian's promtool).

describe("promtool", () => {
  let ctx: TestContext;

  beforeAll(async () => {
    await requirePromtool();
    ctx = await createTestContext();
  });
  afterAll(() => ctx?.close());

  test("check metrics accepts /metrics after traffic", async () => {
    const api = client(ctx.app);
    const productId = await createProduct(api, 1);
    await createHold(api, productId, 1);
    await api.post("/api/holds", { product_id: productId, qty: 1 });
    const metrics = await (await ctx.app.request("/metrics")).text();
    const result = promtool(["check", "metrics"], metrics);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  test("the alerting rules load and pass their unit tests", () => {
    const dir = join(import.meta.dir, "..", "ops", "prometheus");
    const checked = promtool(["check", "rules", "alerts.yml"], undefined, dir);
    expect(checked.output).toContain("SUCCESS: 7 rules found");
    const tested = promtool(["test", "rules", "alerts.test.yml"], undefined, dir);
    expect(tested.output).toContain("SUCCESS");
    expect(tested.code).toBe(0);
  });
});
