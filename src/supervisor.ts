import type { Subprocess } from "bun";
import type { Logger } from "./lib/logger";

const RESTART_DELAY_MS = 500;

/**
 * Runs N copies of this entry point on one port (SO_REUSEPORT: the kernel spreads
 * connections). A worker that dies is started again; SIGTERM is passed on to every worker and
 * the supervisor exits once they all have.
 */
export function superviseWorkers(count: number, logger: Logger): void {
  const workers = new Map<number, Subprocess>();
  let stopping = false;

  const spawn = (id: number) => {
    const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
      env: { ...process.env, FLASH_SALE_WORKER_ID: String(id) },
      stdio: ["ignore", "inherit", "inherit"],
      onExit: (_proc, code, signal) => {
        workers.delete(id);
        if (stopping) {
          if (workers.size === 0) process.exit(0);
          return;
        }
        logger.error({ worker: id, code, signal }, "worker exited; starting it again");
        setTimeout(() => spawn(id), RESTART_DELAY_MS);
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
