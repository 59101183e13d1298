import type { Subprocess } from "bun";
import { ADMIN_TOKEN, WEBHOOK_SECRET } from "./harness";
import { freePort } from "./private-mariadb";

export type ServerProcess = {
  base: string;
  proc: Subprocess;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  stop: (signal?: NodeJS.Signals) => Promise<number>;
  /** The server's log lines at error level and above so far (its 500s log their cause there). */
  errors: () => string[];
};

const ERROR_LEVEL = 50;

/** Keeps a process's error-level log lines (pino JSON), at most `max`, reading to the end. */
function collectErrors(stream: ReadableStream<Uint8Array>, max = 50): string[] {
  const lines: string[] = [];
  void (async () => {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = rest + decoder.decode(chunk, { stream: true });
      const parts = text.split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        const level = Number((/"level":(\d+)/.exec(line) ?? [])[1]);
        if (level >= ERROR_LEVEL && lines.length < max) lines.push(line);
      }
    }
  })();
  return lines;
}

/** Runs `command` to its end without blocking the event loop: its exit code and what it printed. */
export async function runToEnd(
  command: string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(command, { ...options, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out, err };
}

/** Starts `bun src/index.ts` as its own process on a free port and waits until it is ready. */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  for (let attempt = 0; attempt < 5; attempt++) {
    // A port the system hands out, not one counted from the pid: runs going on at once (other
    // checkouts) counted into each other's ranges, so a request meant for a server of this run,
    // killed or not yet up, could be answered by another run's server over another database.
    const port = await freePort();
    const proc = Bun.spawn([process.execPath, "src/index.ts"], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        ADMIN_TOKEN,
        WEBHOOK_SECRET,
        LOG_LEVEL: "warn",
        ...env,
      },
      stdout: "pipe",
      stderr: "ignore",
    });
    const base = `http://127.0.0.1:${port}`;
    const exited = proc.exited;
    const errors = collectErrors(proc.stdout);
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
          errors: () => [...errors],
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

/** A request to a process that may die under it: its answer, or the error it ended with. */
export async function settle<T>(work: Promise<T>): Promise<T | Error> {
  return work.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}
