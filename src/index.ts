import { createApp } from "./app";
import { loadConfig, WEBHOOK_SECRET_MIN_BYTES, webhookSecretKey } from "./config";
import { migrateDatabase } from "./db/migrate";
import { describeDatabaseFailure, StartupError, waitForDatabase } from "./db/startup";
import { buildDeps, closeDeps } from "./deps";
import { runtimeErrorHandler } from "./http/problem";
import { startAdmission } from "./jobs/admission";
import { startMerchantDispatcher } from "./jobs/merchant-dispatcher";
import { startReconciler } from "./jobs/reconciler";
import { startSweeper } from "./jobs/sweeper";
import { createLogger, type Logger } from "./lib/logger";
import { registerRuntimeMetrics } from "./lib/runtime-metrics";
import { type SupervisorMessage, type WorkerMessage, workerScrape } from "./lib/worker-metrics";
import { superviseWorkers } from "./supervisor";

const SHUTDOWN_GRACE_MS = 8000;

const config = loadConfig();
const workerId = config.FLASH_SALE_WORKER_ID;

/** Waits for the database and migrates it; any failure is one clear line and exit 1. */
async function prepareDatabase(logger: Logger): Promise<void> {
  try {
    await waitForDatabase(config.DATABASE_URL, config.DB_STARTUP_TIMEOUT_SECONDS, logger);
    await migrateDatabase(config.DATABASE_URL);
  } catch (err) {
    const reason =
      err instanceof StartupError
        ? err.message
        : `migration failed: ${describeDatabaseFailure(err, config.DATABASE_URL)}`;
    logger.fatal(`cannot start: ${reason}`);
    process.exit(1);
  }
}

/** The server, or one line saying why it cannot listen (a port in use) and exit 1. */
function listenOrExit<T>(listen: () => T, logger: Logger): T {
  try {
    return listen();
  } catch (err) {
    const reason =
      (err as { code?: string }).code === "EADDRINUSE"
        ? `port ${config.PORT} is in use: stop what listens there, or set PORT to a free one`
        : `cannot listen on port ${config.PORT}: ${(err as Error).message}`;
    logger.fatal(`cannot start: ${reason}`);
    process.exit(1);
  }
}

if (config.WORKERS > 1 && workerId === undefined) {
  const logger = createLogger(config.LOG_LEVEL);
  await prepareDatabase(logger);
  superviseWorkers(config.WORKERS, logger);
} else {
  if (workerId === undefined) await prepareDatabase(createLogger(config.LOG_LEVEL));
  const deps = buildDeps(config, {
    metricLabels: workerId === undefined ? {} : { worker: workerId },
  });
  const { logger } = deps;
  registerRuntimeMetrics(deps.metrics.registry);
  if (workerId !== undefined) {
    // A scrape reaching this worker answers for all of them, through the supervisor.
    deps.metrics.scrape = workerScrape(
      deps.metrics.registry,
      {
        send: (message: WorkerMessage) => process.send?.(message),
        on: (event, listener) =>
          process.on(event, (message) => listener(message as SupervisorMessage)),
      },
      config.WORKERS,
    );
  }
  // Listening first: a port in use is then the one line printed, before any warning.
  const app = createApp(deps);
  const server = listenOrExit(
    () =>
      Bun.serve({
        port: config.PORT,
        hostname: "0.0.0.0",
        reusePort: config.WORKERS > 1,
        // Longer than the 15 s between keep-alive comments on live stock streams.
        idleTimeout: 30,
        fetch: app.fetch,
        error: runtimeErrorHandler(logger),
      }),
    logger,
  );
  const webhookKey =
    config.WEBHOOK_SECRET === undefined ? undefined : webhookSecretKey(config.WEBHOOK_SECRET);
  if (webhookKey === undefined && config.WEBHOOK_ALLOW_UNSIGNED) {
    logger.warn(
      "!!! WEBHOOK_ALLOW_UNSIGNED=true and no WEBHOOK_SECRET: payment webhooks are accepted WITHOUT a signature, so anyone who reaches this service can mark any order paid. For development only. !!!",
    );
  } else if (webhookKey === undefined) {
    logger.warn(
      "WEBHOOK_SECRET is not set: every payment webhook is refused (401 invalid_signature)",
    );
  } else if (config.WEBHOOK_ALLOW_UNSIGNED) {
    logger.warn(
      "WEBHOOK_ALLOW_UNSIGNED is ignored: WEBHOOK_SECRET is set, so webhooks are verified",
    );
  }
  if (
    webhookKey !== undefined &&
    typeof webhookKey !== "string" &&
    webhookKey.length < WEBHOOK_SECRET_MIN_BYTES
  ) {
    logger.warn(
      `WEBHOOK_SECRET is ${webhookKey.length} bytes; Standard Webhooks asks for at least ${WEBHOOK_SECRET_MIN_BYTES}`,
    );
  }
  if (!deps.buyers.required) {
    logger.warn(
      "BUYER_JWT_SECRET and BUYER_JWKS_URL are unset: shoppers are anonymous, anyone may read or release any anonymous hold by its id, and products with max_per_buyer cannot be held",
    );
  } else if (config.BUYER_JWT_SECRET && Buffer.byteLength(config.BUYER_JWT_SECRET) < 32) {
    logger.warn("BUYER_JWT_SECRET is shorter than 32 bytes: HS256 keys that short can be guessed");
  }
  if (!config.ADMIN_TOKEN) logger.warn("ADMIN_TOKEN is not set: every admin route answers 401");
  else if (config.ADMIN_TOKEN.length < 16)
    logger.warn("ADMIN_TOKEN is shorter than 16 characters: easy to guess");

  const jobs = [startSweeper(deps), startReconciler(deps), startAdmission(deps)];
  const dispatcher = startMerchantDispatcher(deps);
  if (!dispatcher) {
    logger.warn(
      "MERCHANT_WEBHOOK_URL is not set: merchant events are recorded, not sent (GET /api/admin/events)",
    );
  }
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
    // Open event streams would keep the server waiting for ever: end them first.
    deps.stockHub.close();
    await Promise.all([server.stop(false), dispatcher?.stop()]);
    await closeDeps(deps);
    clearTimeout(forced);
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
