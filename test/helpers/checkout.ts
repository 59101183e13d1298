import { afterAll, beforeAll } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import mysql from "mysql2/promise";
import { databaseUrl } from "./harness";
import { freePort } from "./private-mariadb";
import { until } from "./until";

/** This checkout's root. */
export const ROOT = join(import.meta.dir, "..", "..");

/** A copy of this checkout as a user would have it (node_modules shared, not copied). */
export function freshCheckout(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const listed = Bun.spawnSync(["git", "ls-files", "-co", "--exclude-standard"], { cwd: ROOT });
  for (const file of listed.stdout.toString().split("\n")) {
    // A worktree's node_modules may be a link git does not ignore: it is linked below instead.
    if (!file || file === "node_modules" || !Bun.file(join(ROOT, file)).size) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** A user's shell: no test runner's NODE_ENV, none of our configuration. */
export function userEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    LANG: "C.UTF-8",
    ...extra,
  };
}

/**
 * `bash scripts/serve.sh` in `dir`, as a user starts it, in its own session (so the server and
 * everything serve.sh started stop together with the group), once /readyz answers 200 or it
 * exited.
 */
export async function startServeSh(dir: string, env: Record<string, string>): Promise<Subprocess> {
  const server = Bun.spawn(["setsid", "bash", "-c", "exec bash scripts/serve.sh >serve.log 2>&1"], {
    cwd: dir,
    env: userEnv(env),
  });
  const ready = () =>
    fetch(`http://127.0.0.1:${env.PORT}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
  await until(async () => (await ready()) || server.exitCode !== null, Boolean, {
    tries: 600,
    everyMs: 100,
  });
  return server;
}

/** A served copy of this checkout: where it is, its port, its server and its database's name. */
export type ServedCheckout = {
  readonly name: string;
  dir: string;
  port: number;
  server: Subprocess | undefined;
};

/**
 * For a describe block: a fresh copy of this checkout (in a `prefix` temporary folder) served by
 * `bash scripts/serve.sh`, as the README tells a user to start it, on a free port with a database
 * of its own. After the block, serve.sh's process group is stopped (SIGKILL if it outlives 10 s
 * of SIGTERM), the database dropped and the copy removed.
 */
export function useServedCheckout(prefix: string): ServedCheckout {
  const random = Math.random().toString(36).slice(2, 8);
  const served: ServedCheckout = {
    name: `${prefix.replaceAll("-", "_")}${process.pid}_${random}`,
    dir: "",
    port: 0,
    server: undefined,
  };

  beforeAll(async () => {
    served.dir = freshCheckout(prefix);
    served.port = await freePort();
    served.server = await startServeSh(served.dir, {
      PORT: String(served.port),
      DATABASE_URL: databaseUrl(served.name),
    });
  }, 120_000);

  afterAll(async () => {
    if (served.server) await stopGroup(served.server);
    const admin = await mysql.createConnection({ uri: databaseUrl("") });
    await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(served.name)}`);
    await admin.end();
    if (served.dir) rmSync(served.dir, { recursive: true, force: true });
  }, 30_000);

  return served;
}

/** Stops a process started in its own session and all it started: SIGTERM, then SIGKILL. */
async function stopGroup(server: Subprocess) {
  const group = -server.pid;
  try {
    process.kill(group, "SIGTERM");
  } catch {}
  await server.exited;
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(group, 0);
    } catch {
      return;
    }
    await Bun.sleep(100);
  }
  try {
    process.kill(group, "SIGKILL");
  } catch {}
}
