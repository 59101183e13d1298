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

type ConnectError = {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  message?: string;
  cause?: unknown;
};

/** Where a database URL points, as an operator would write it: `host:port`. */
function serverOf(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port || 3306}`;
}

/**
 * One line saying why the database at `url` could not be used: the driver's own words for
 * a refusal (wrong password, unknown database), plain words for a network failure, and the
 * code in brackets for a search. Never a stack.
 */
export function describeDatabaseFailure(err: unknown, url: string): string {
  let e = err as ConnectError;
  // Drizzle wraps the driver's error; what the server said is its cause.
  if (e.code === undefined && e.errno === undefined && typeof e.cause === "object" && e.cause) {
    e = e.cause as ConnectError;
  }
  const where = serverOf(url);
  const code = e.code ?? (e.errno === undefined ? undefined : String(e.errno));
  const said = (e.sqlMessage ?? e.message ?? String(err)).split("\n")[0];
  switch (code) {
    case "ENOTFOUND":
      return `the database host "${new URL(url).hostname}" is unknown (ENOTFOUND): check DATABASE_URL`;
    case "EAI_AGAIN":
      return `the database host "${new URL(url).hostname}" could not be looked up (EAI_AGAIN)`;
    case "ECONNREFUSED":
      return `nothing accepts connections at ${where} (ECONNREFUSED): is the database running?`;
    case "ETIMEDOUT":
      return `the database at ${where} did not answer in time (ETIMEDOUT)`;
    default:
      if (e.sqlMessage !== undefined) {
        return `the database at ${where} refused: ${said} (${code})`;
      }
      return `the database at ${where} failed: ${said}${code ? ` (${code})` : ""}`;
  }
}

/** A host name that does not exist will not start to exist by waiting for it. */
function worthWaiting(err: unknown): boolean {
  return (err as ConnectError).code !== "ENOTFOUND" && transientReason(err) !== undefined;
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
  const where = serverOf(url);
  const giveUpAt = Date.now() + timeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      const conn = await mysql.createConnection({ uri: server.toString(), connectTimeout: 2000 });
      await conn.end();
      if (attempt > 1) logger.info({ database: where, attempt }, "database answers");
      return;
    } catch (err) {
      const reason = describeDatabaseFailure(err, url);
      if (!worthWaiting(err)) throw new StartupError(reason);
      if (Date.now() + RETRY_EVERY_MS > giveUpAt) {
        throw new StartupError(
          `no database answered at ${where} within ${timeoutSeconds} s (DB_STARTUP_TIMEOUT_SECONDS); last error: ${reason}`,
        );
      }
      logger.warn({ database: where, attempt, error: reason }, "waiting for the database");
      await sleep(RETRY_EVERY_MS);
    }
  }
}

/**
 * Runs a command-line script (`db:migrate`, `db:seed`): any failure is one line on stderr
 * naming the script and what went wrong, and exit 1; no stack trace, no code frame.
 */
export async function runScript(
  name: string,
  url: string,
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (err) {
    console.error(`${name} failed: ${describeDatabaseFailure(err, url)}`);
    process.exit(1);
  }
}
