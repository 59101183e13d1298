import type { Subprocess } from "bun";
import { ADMIN_TOKEN } from "./harness";

export type ServerProcess = {
  base: string;
  proc: Subprocess;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  stop: (signal?: NodeJS.Signals) => Promise<number>;
};

let nextPort = 4100 + (process.pid % 500) * 2;

/** Starts `bun src/index.ts` as its own process on a free port and waits until it is ready. */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = nextPort++;
    const proc = Bun.spawn([process.execPath, "src/index.ts"], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        ADMIN_TOKEN,
        LOG_LEVEL: "warn",
        ...env,
      },
      stdout: "ignore",
      stderr: "ignore",
    });
    const base = `http://127.0.0.1:${port}`;
    const exited = proc.exited;
    for (let i = 0; i < 100; i++) {
      const status = await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) {
        return {
          base,
          proc,
          exited,
          stop: async (signal = "SIGTERM") => {
            proc.kill(signal);
            return exited;
          },
        };
      }
      if (proc.exitCode !== null) break;
      await Bun.sleep(100);
    }
    proc.kill("SIGKILL");
    await exited;
  }
  throw new Error("server process did not become ready");
}

/** Sums a counter over several processes' /metrics, matching every series whose labels contain `match`. */
export async function sumMetric(bases: string[], name: string, match = ""): Promise<number> {
  let total = 0;
  for (const base of bases) {
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (line.startsWith(name) && line.includes(match) && !line.startsWith("#")) {
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
  }
  return total;
}
