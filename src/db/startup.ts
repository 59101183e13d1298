import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import type { Logger } from "../lib/logger";
import { transientReason } from "./errors";

const RETRY_EVERY_MS = 1000;

/** Start-up cannot go on; the message says why in one line, for an operator. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

/**
 * Waits for the database server to accept a connection, logging each attempt, for at most
 * `timeoutSeconds`: containers often start before their database. A refusal that waiting will
 * not cure (wrong password, unknown host name) ends the wait at once.
 */
export async function waitForDatabase(
  url: string,
  timeoutSeconds: number,
  logger: Logger,
): Promise<void> {
  const server = new URL(url);
  server.pathname = "/";
  const where = `${server.hostname}:${server.port || 3306}`;
  const giveUpAt = Date.now() + timeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      const conn = await mysql.createConnection({ uri: server.toString(), connectTimeout: 2000 });
      await conn.end();
      if (attempt > 1) logger.info({ database: where, attempt }, "database answers");
      return;
    } catch (err) {
      if (!transientReason(err)) {
        throw new StartupError(`the database at ${where} refused the connection: ${describe(err)}`);
      }
      if (Date.now() + RETRY_EVERY_MS > giveUpAt) {
        throw new StartupError(
          `no database answered at ${where} within ${timeoutSeconds} s (DB_STARTUP_TIMEOUT_SECONDS); last error: ${describe(err)}`,
        );
      }
      logger.warn({ database: where, attempt, error: describe(err) }, "waiting for the database");
      await sleep(RETRY_EVERY_MS);
    }
  }
}
