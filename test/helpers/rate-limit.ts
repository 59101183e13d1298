import { afterAll, beforeAll } from "bun:test";
import { createApp } from "../../src/app";
import { RateLimiter } from "../../src/state/rate-limiter";
import { type Client, client, type Reply } from "./fixtures";
import { createTestContext, type Running, serve, type TestContext } from "./harness";
import { holdCount } from "./invariants";

/** An app over `ctx` whose limiter runs on a clock the test moves. */
export function withClock(ctx: TestContext, rate: number) {
  const clock = { now: 0 };
  const limiter = new RateLimiter(rate, () => clock.now);
  return { clock, app: createApp({ ...ctx.deps, rateLimiter: limiter }) };
}

export type Limited = { ctx: TestContext; running: Running; api: Client; clock: { now: number } };

/** A fresh database and the app on a socket for a describe block, its limiter on a test clock. */
export function useLimited(env: Record<string, string>, rate: number): Limited {
  const state = {} as Limited;
  beforeAll(async () => {
    state.ctx = await createTestContext(env);
    const built = withClock(state.ctx, rate);
    state.clock = built.clock;
    state.running = serve(built.app);
    state.api = client(state.running.baseUrl);
  });
  afterAll(async () => {
    await state.running.stop();
    await state.ctx.close();
  });
  return state;
}

export const statuses = (replies: Reply[]) => replies.map((r) => r.status);

export const holdsOf = (ctx: TestContext, productId: number) => holdCount(ctx.sql, productId);
