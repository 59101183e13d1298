import { describe, expect, test } from "bun:test";
import { useProxiedApp } from "./helpers/apps";
import { HS256 } from "./helpers/buyers";
import { client } from "./helpers/fixtures";
import { invariantViolations } from "./helpers/invariants";
import { as, roomProduct, tickets } from "./helpers/waiting-room";

// The contract's promise for joins too: a 5xx means the join changed nothing.

describe("a join whose COMMIT answer is lost", () => {
  const { ctx, proxy, viaProxy } = useProxiedApp({ ...HS256, REQUEST_TIMEOUT_MS: "3000" });

  test("committed: answered 201 with the stored ticket; never reaching the database: 503 and no ticket", async () => {
    const api = client(viaProxy.app);
    const id = await roomProduct(api, { admit_per_second: 0 });
    // A join's batch sends COMMIT alone.
    proxy.dropWhenSent("\u0003COMMIT", { forward: true, once: true });
    const joined = await api.post(`/api/products/${id}/queue`, undefined, await as("alice"));
    proxy.dropWhenSent("\u0003COMMIT");
    const lost = await api.post(`/api/products/${id}/queue`, undefined, await as("bob"));
    proxy.dropWhenSent(undefined);
    expect(proxy.dropped).toBeGreaterThanOrEqual(2);
    expect(joined.status).toBe(201);
    expect(lost.status).toBe(503);
    const stored = await tickets(ctx.sql, id);
    expect(stored.map((t) => [t.id, t.buyer_id, t.position])).toEqual([
      [joined.body.ticket_id as number, "alice", 1],
    ]);
    expect(joined.body.position).toBe(1);
    // The line counts alice alone: bob's join left no trace.
    const product = await api.get(`/api/products/${id}`);
    expect(product.body.waiting_room).toMatchObject({ joined: 1 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
