import type { Subprocess } from "bun";
import type { Logger } from "./lib/logger";
import { ScrapeRelay, type WorkerMessage } from "./lib/worker-metrics";

const FIRST_RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that ran this long is considered healthy: its next crash restarts it quickly again. */
const HEALTHY_AFTER_MS = 60_000;

/**
 * Runs N copies of this entry point on one port (SO_REUSEPORT: the kernel spreads
 * connections). A worker that dies is started again; SIGTERM is passed on to every worker and
 * the supervisor exits once they all have. A scrape of /metrics reaching any worker is relayed
 * to all of them over IPC, so it answers for the whole service.
 */
export function superviseWorkers(count: number, logger: Logger): void {
  const workers = new Map<number, Subprocess>();
  const relay = new ScrapeRelay();
  const delays = new Map<number, number>();
  let stopping = false;

  const spawn = (id: number) => {
    const startedAt = Date.now();
    const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
      env: { ...process.env, FLASH_SALE_WORKER_ID: String(id) },
      stdio: ["ignore", "inherit", "inherit"],
      ipc: (message: WorkerMessage, worker) => relay.receive(worker, message),
      onExit: (proc, code, signal) => {
        workers.delete(id);
        relay.gone(proc);
        if (stopping) {
          if (workers.size === 0) process.exit(0);
          return;
        }
        // A worker that keeps dying at start-up (port taken, database gone) is retried ever
        // more slowly instead of in a tight loop.
        const previous = delays.get(id) ?? FIRST_RESTART_DELAY_MS / 2;
        const delay =
          Date.now() - startedAt > HEALTHY_AFTER_MS
            ? FIRST_RESTART_DELAY_MS
            : Math.min(previous * 2, MAX_RESTART_DELAY_MS);
        delays.set(id, delay);
        logger.error(
          { worker: id, code, signal, restartInMs: delay },
          "worker exited; starting it again",
        );
        setTimeout(() => {
          if (!stopping) spawn(id);
        }, delay);
      },
    });
    workers.set(id, child);
  };

  for (let id = 1; id <= count; id++) spawn(id);
  logger.info({ workers: count }, "supervisor started");

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (workers.size === 0) process.exit(0);
    for (const child of workers.values()) child.kill(signal);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
