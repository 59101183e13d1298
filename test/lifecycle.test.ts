import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { deadlineOf, type RequestBindings, stampedResponse } from "../src/http/bindings";
import { withRequestLifecycle } from "../src/http/lifecycle";
import { createMetrics } from "../src/lib/metrics";
import { captureLogs } from "./helpers/fixtures";

const DEADLINE_MS = 150;

/**
 * The request lifecycle around a small app of its own: what every request gets (an id, a
 * deadline, one metric sample and one log line), without a database.
 */
function served() {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const app = new Hono<{ Bindings: RequestBindings }>()
    .get("/sync", (c) => c.text("sync"))
    .get("/stamped", (c) =>
      stampedResponse(c, '{"ok":true}', 200, { "content-type": "application/json" }),
    )
    // Waits without ever consulting its deadline, as a refusal answered from memory does.
    .get("/unguarded", async (c) => {
      await Bun.sleep(DEADLINE_MS * 2);
      return c.text("late but unguarded");
    })
    // Arms its deadline only after an await, then waits on work that never ends in time.
    .get("/guarded", async (c) => {
      await Bun.sleep(10);
      const deadline = deadlineOf(c);
      deadline.arm();
      expect(deadline.abandoned).toBe(false);
      await released;
      return c.text("too late");
    })
    .get("/quick", async (c) => {
      const deadline = deadlineOf(c);
      await Bun.sleep(10);
      return c.text(`answered with ${Math.round(deadline.remainingMs() / 10) * 10} ms to spare`);
    });
  const metrics = createMetrics();
  const { lines, logger } = captureLogs();
  withRequestLifecycle(app, { logger, metrics, deadlineMs: DEADLINE_MS });
  const get = (path: string, headers: Record<string, string> = {}) =>
    app.fetch(new Request(`http://sale.test${path}`, { headers }));
  const samples = async () =>
    (await metrics.registry.getMetricsAsJSON())
      .find((m) => m.name === "http_requests_total")
      ?.values.map((v) => ({ route: v.labels.route, status: v.labels.status, value: v.value }));
  return { get, release, lines, samples };
}

describe("request ids", () => {
  test("every answer carries one, set afterwards or stamped by the handler, echoing a valid incoming one", async () => {
    const { get } = served();
    const plain = await get("/sync");
    expect(plain.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
    const stamped = await get("/stamped");
    expect(stamped.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
    expect(stamped.headers.get("x-request-id")).not.toBe(plain.headers.get("x-request-id"));
    expect(await stamped.json()).toEqual({ ok: true });
    const echoed = await get("/stamped", { "x-request-id": "client-7" });
    expect(echoed.headers.get("x-request-id")).toBe("client-7");
    const refused = await get("/sync", { "x-request-id": "not valid" });
    expect(refused.headers.get("x-request-id")).not.toBe("not valid");
  });
});

describe("deadlines", () => {
  test("a handler that arms its deadline late is still answered 503 when it passes", async () => {
    const { get, release } = served();
    const res = await get("/guarded", { "x-request-id": "slow-1" });
    release();
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-request-id")).toBe("slow-1");
    expect(await res.json()).toMatchObject({ code: "service_unavailable", status: 503 });
  });

  test("a handler that never consults its deadline is never raced against it", async () => {
    const { get } = served();
    const res = await get("/unguarded");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("late but unguarded");
  });

  test("a handler answering in time gets its own answer, its deadline counted from the request's start", async () => {
    const { get } = served();
    const res = await get("/quick");
    expect(res.status).toBe(200);
    const spare = Number(/with (\d+) ms/.exec(await res.text())?.[1]);
    expect(spare).toBeGreaterThan(0);
    expect(spare).toBeLessThanOrEqual(DEADLINE_MS);
  });
});

describe("metrics and logs", () => {
  test("one sample and one log line per request by route pattern, also when the deadline answered first", async () => {
    const { get, release, lines, samples } = served();
    await get("/sync");
    await get("/sync?x=1");
    await get("/stamped");
    await get("/guarded");
    release();
    // The handler's own late answer must not count a second time.
    await Bun.sleep(50);
    await get("/nowhere");
    expect(await samples()).toEqual(
      expect.arrayContaining([
        { route: "/sync", status: "200", value: 2 },
        { route: "/stamped", status: "200", value: 1 },
        { route: "/guarded", status: "503", value: 1 },
        { route: "unmatched", status: "404", value: 1 },
      ]),
    );
    expect((await samples())?.length).toBe(4);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; route: string });
    expect(logged.filter((l) => l.msg === "request").map((l) => l.route)).toEqual([
      "/sync",
      "/sync",
      "/stamped",
      "/guarded",
      "unmatched",
    ]);
  });
});
