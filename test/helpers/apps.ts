import { afterAll, beforeAll } from "bun:test";
import { closeDeps } from "../../src/deps";
import { type Client, client } from "./fixtures";
import {
  buildProxiedApp,
  type buildTestApp,
  createTestContext,
  type ServedContext,
  type TestContext,
  useServedContext,
} from "./harness";
import { type ServerProcess, startServer } from "./processes";
import type { TcpProxy } from "./tcp-proxy";

/**
 * What `get` answers, under a name a suite can hold before its beforeAll has made the thing
 * (methods stay bound to the thing itself).
 */
function later<T extends object>(get: () => T): T {
  return new Proxy({} as T, {
    get: (_, key) => {
      const target = get();
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Makes something in beforeAll and ends it in afterAll; `part` names a piece of it for later. */
export function useMade<T>(make: () => Promise<T>, end: (made: T) => Promise<unknown>) {
  let made: T | undefined;
  beforeAll(async () => {
    made = await make();
  });
  afterAll(async () => {
    if (made !== undefined) await end(made);
  });
  return <P extends object>(part: (made: T) => P): P =>
    later(() => {
      if (made === undefined) throw new Error("used outside a test");
      return part(made);
    });
}

/**
 * A fresh database and the app in-process for a file or describe block (made in beforeAll,
 * dropped in afterAll): `ctx` for the tests' SQL and services, `api` a client of the app.
 */
export function useTestApp(env: Record<string, string> = {}): { ctx: TestContext; api: Client } {
  const part = useMade(
    () => createTestContext(env),
    (ctx) => ctx.close(),
  );
  const ctx = part((made) => made);
  return { ctx, api: client(() => ctx.app) };
}

/** The same with the app on a real socket (`useServedContext`), for truly concurrent requests. */
export function useServedApp(env: Record<string, string> = {}): {
  ctx: ServedContext;
  api: Client;
} {
  const ctx = later(useServedContext(env));
  return { ctx, api: client(() => ctx.baseUrl) };
}

/** A fresh database and `count` real server processes over it (SIGKILLed at the end). */
export function useServers(count: number, env: Record<string, string> = {}) {
  const part = useMade(
    async () => {
      const ctx = await createTestContext();
      const servers = await Promise.all(
        Array.from({ length: count }, () => startServer(ctx.url, { DB_POOL_SIZE: "8", ...env })),
      );
      return { ctx, servers, apis: servers.map((s) => client(s.base)) };
    },
    async ({ ctx, servers }) => {
      await Promise.all(servers.map((s) => s.stop("SIGKILL")));
      await ctx.close();
    },
  );
  return {
    ctx: part((made): TestContext => made.ctx),
    servers: part((made): ServerProcess[] => made.servers),
    apis: part((made): Client[] => made.apis),
  };
}

/** A fresh database, and the app reaching it through a TCP proxy the test can cut (`buildProxiedApp`). */
export function useProxiedApp(env: Record<string, string>) {
  const part = useMade(
    async () => {
      const ctx = await createTestContext();
      return { ctx, ...buildProxiedApp(ctx, env) };
    },
    async ({ ctx, proxy, viaProxy }) => {
      await closeDeps(viaProxy.deps);
      proxy.stop();
      await ctx.close();
    },
  );
  return {
    ctx: part((made): TestContext => made.ctx),
    proxy: part((made): TcpProxy => made.proxy),
    viaProxy: part((made): ReturnType<typeof buildTestApp> => made.viaProxy),
  };
}
