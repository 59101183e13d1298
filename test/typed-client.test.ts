import { describe, expect, test } from "bun:test";
import { hc } from "hono/client";
import type { AppType } from "../src/app";
import { createProduct, client as untyped } from "./fixtures";
import { useServedContext } from "./helpers/harness";

// Hono's typed client over the exported AppType: `bun run typecheck` checks these calls (the
// path parameters, the JSON body, the Idempotency-Key header and the JSON answered).

describe("hc<AppType>", () => {
  const served = useServedContext();

  test("creates a hold and reads it back, typed end to end", async () => {
    const { baseUrl } = served();
    const productId = await createProduct(untyped(baseUrl), 10);
    const api = hc<AppType>(baseUrl);

    const created = await api.api.holds.$post({
      header: { "idempotency-key": "typed-client-1" },
      json: { product_id: productId, qty: 2 },
    });
    expect(created.status).toBe(201);
    // A create may be a replay of the stored answer, so its body is typed loosely.
    const { hold_id: holdId } = (await created.json()) as { hold_id: number };

    const read = await api.api.holds[":id"].$get({ param: { id: String(holdId) } });
    expect(read.status).toBe(200);
    const hold = await read.json();
    const status: "active" | "converted" | "released" | "expired" = hold.status;
    const buyer: string | null = hold.buyer_id;
    expect(status).toBe("active");
    expect(buyer).toBeNull();
    expect(hold.qty).toBe(2);
    expect(hold.product_id).toBe(productId);
  });
});
