import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { until } from "./until";

/** This checkout's root. */
export const ROOT = join(import.meta.dir, "..", "..");

/** A copy of this checkout as a user would have it (node_modules shared, not copied). */
export function freshCheckout(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const listed = Bun.spawnSync(["git", "ls-files", "-co", "--exclude-standard"], { cwd: ROOT });
  for (const file of listed.stdout.toString().split("\n")) {
    if (!file || !Bun.file(join(ROOT, file)).size) continue;
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
