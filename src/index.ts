import { createApp } from "./app";
import { loadConfig } from "./config";
import { migrateDatabase } from "./db/migrate";
import { buildDeps } from "./deps";
import { startReconciler } from "./jobs/reconciler";
import { startSweeper } from "./jobs/sweeper";
import { createLogger } from "./lib/logger";
import { superviseWorkers } from "./supervisor";

const SHUTDOWN_GRACE_MS = 8000;

const config = loadConfig();
const workerId = config.FLASH_SALE_WORKER_ID;

if (config.WORKERS > 1 && workerId === undefined) {
  const logger = createLogger(config.LOG_LEVEL);
  await migrateDatabase(config.DATABASE_URL);
  superviseWorkers(config.WORKERS, logger);
} else {
  if (workerId === undefined) await migrateDatabase(config.DATABASE_URL);
  const deps = buildDeps(config, workerId === undefined ? {} : { worker: workerId });
  const { logger } = deps;
  if (!config.WEBHOOK_SECRET) {
    logger.warn(
      "WEBHOOK_SECRET is not set: payment webhooks are accepted without a signature check",
    );
  }
  if (!config.ADMIN_TOKEN) logger.warn("ADMIN_TOKEN is not set: every admin route answers 401");
  else if (config.ADMIN_TOKEN.length < 16)
    logger.warn("ADMIN_TOKEN is shorter than 16 characters: easy to guess");

  const app = createApp(deps);
  const server = Bun.serve({
    port: config.PORT,
    hostname: "0.0.0.0",
    reusePort: config.WORKERS > 1,
    fetch: app.fetch,
  });
  const jobs = [startSweeper(deps), startReconciler(deps)];
  logger.info({ port: server.port, worker: workerId }, "flash-sale listening");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: no new connections, finishing requests in flight");
    const forced = setTimeout(() => {
      logger.error("requests still in flight after the grace period; exiting anyway");
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    for (const job of jobs) job.stop();
    await server.stop(false);
    await deps.pool.end().catch(() => undefined);
    clearTimeout(forced);
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
