import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

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
