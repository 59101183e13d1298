import { describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { useTestApp } from "./helpers/apps";
import { databaseUrl } from "./helpers/harness";
import { freePort } from "./helpers/private-mariadb";
import { TcpProxy } from "./helpers/tcp-proxy";
import { until } from "./helpers/until";

// `bun src/index.ts` as a container would start it: perhaps before its database.

type Started = { proc: Subprocess<"ignore", "pipe", "pipe">; output: () => string };

function start(env: Record<string, string>): Started {
  const proc = Bun.spawn([process.execPath, "src/index.ts"], {
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  return { proc, output: () => text };
}

/** Polls `check` every 100 ms, at most 200 times, and throws if it never holds. */
const waitFor = (check: () => boolean | Promise<boolean>, what: string) =>
  until(check, Boolean, { tries: 200, everyMs: 100, orThrow: what });

const stackTrace = /^\s+at /m;

describe("start-up", () => {
  const { ctx } = useTestApp();

  test("with the database down, then up: waits, logs each attempt, becomes ready without a restart", async () => {
    const dbPort = await freePort();
    const httpPort = await freePort();
    const url = new URL(databaseUrl(`fs_startup_${process.pid}`));
    const real = new URL(ctx.url);
    url.port = String(dbPort);
    const server = start({
      DATABASE_URL: url.toString(),
      PORT: String(httpPort),
      DB_STARTUP_TIMEOUT_SECONDS: "60",
    });
    const proxy = new TcpProxy(real.hostname, Number(real.port || 3306));
    try {
      await waitFor(
        () => server.output().split("waiting for the database").length > 2,
        "two attempts logged",
      );
      proxy.start(dbPort);
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
            (r) => r.status === 200,
            () => false,
          ),
        "ready",
      );
      expect(server.proc.exitCode).toBeNull();
      expect(server.output()).toContain("database answers");
      expect(server.output()).not.toMatch(stackTrace);
    } finally {
      server.proc.kill("SIGKILL");
      await server.proc.exited;
      proxy.stop();
      await ctx.sql.query(`DROP DATABASE IF EXISTS fs_startup_${process.pid}`);
    }
  });

  test("a database that never comes: one clear line, exit 1, no stack trace", async () => {
    const dbPort = await freePort();
    const url = new URL(ctx.url);
    url.port = String(dbPort);
    const server = start({
      DATABASE_URL: url.toString(),
      PORT: String(await freePort()),
      DB_STARTUP_TIMEOUT_SECONDS: "1",
    });
    expect(await server.proc.exited).toBe(1);
    await Bun.sleep(50);
    const lines = server.output().trim().split("\n");
    const last = JSON.parse(lines.at(-1) ?? "{}") as { msg?: string };
    expect(last.msg).toContain("cannot start: no database answered");
    expect(last.msg).toContain("DB_STARTUP_TIMEOUT_SECONDS");
    expect(server.output()).not.toMatch(stackTrace);
  });

  test.each([
    [
      "true",
      "WEBHOOK_ALLOW_UNSIGNED=true and no WEBHOOK_SECRET: payment webhooks are accepted WITHOUT a signature",
    ],
    ["", "WEBHOOK_SECRET is not set: every payment webhook is refused (401 invalid_signature)"],
  ])(
    "WEBHOOK_ALLOW_UNSIGNED=%p without a secret: start-up says what webhooks will get",
    async (value, warning) => {
      const server = start({
        DATABASE_URL: ctx.url,
        PORT: String(await freePort()),
        WEBHOOK_SECRET: "",
        WEBHOOK_ALLOW_UNSIGNED: value,
      });
      try {
        await waitFor(() => server.output().includes("flash-sale listening"), "listening");
        const warned = server
          .output()
          .split("\n")
          .filter((line) => line.includes(warning))
          .map((line) => (JSON.parse(line) as { level: number }).level);
        expect(warned).toEqual([40]);
      } finally {
        server.proc.kill("SIGKILL");
        await server.proc.exited;
      }
    },
  );

  test("WORKERS=2 with a bad WEBHOOK_SECRET: the supervisor exits 1 at once instead of restarting workers", async () => {
    const server = start({
      DATABASE_URL: ctx.url,
      PORT: String(await freePort()),
      WORKERS: "2",
      WEBHOOK_SECRET: "whsec_A",
    });
    expect(await server.proc.exited).toBe(1);
    await Bun.sleep(50);
    expect(server.output()).toContain("WEBHOOK_SECRET:");
    expect(server.output()).not.toMatch(stackTrace);
    expect(server.output()).not.toContain("worker exited");
  });
});
