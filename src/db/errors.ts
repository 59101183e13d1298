import { AppError, gaveUp, serviceUnavailable } from "../errors";

type DriverError = { errno?: number; code?: string; fatal?: boolean; message?: string };

/**
 * Server errors after which the statement (and with our rollback, the transaction) left
 * nothing behind, and running the transaction again may well succeed.
 */
const transientErrnos = new Map<number, TransientReason>([
  [1213, "deadlock"], // also Galera's certification failure
  [1205, "lock_wait_timeout"],
  [1317, "interrupted"], // KILL QUERY, or a server shutting down
  [1927, "interrupted"], // MariaDB: the connection was killed
  [1969, "statement_timeout"], // MariaDB max_statement_time
  [3024, "statement_timeout"], // MySQL max_execution_time
  [1047, "node_not_ready"], // Galera: the node is not part of a primary component
  // A pooled session found inside a transaction it did not start (seen on Galera after a
  // brute-force abort): the connection is discarded and the work started again elsewhere.
  [1568, "connection_lost"],
  [1053, "unreachable"], // server shutdown in progress
  [1040, "unreachable"], // too many connections
  [2013, "connection_lost"],
  [2006, "connection_lost"],
]);

const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "POOL_CLOSED",
]);

export type TransientReason =
  | "deadlock"
  | "lock_wait_timeout"
  | "interrupted"
  | "statement_timeout"
  | "node_not_ready"
  | "connection_lost"
  | "unreachable";

/** Drizzle wraps driver errors; the errno that matters sits somewhere down the cause chain. */
function causeChain(err: unknown): DriverError[] {
  const chain: DriverError[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    chain.push(current as DriverError);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/**
 * Why a database failure is temporary (a 503 with Retry-After), or undefined for anything
 * else: a bug, a constraint, bad SQL. The one table every path maps errors through.
 */
export function transientReason(err: unknown): TransientReason | undefined {
  if (err instanceof OpenTooLong) return "statement_timeout";
  for (const e of causeChain(err)) {
    if (typeof e.errno === "number") {
      const reason = transientErrnos.get(e.errno);
      if (reason) return reason;
    }
    if (e.code !== undefined && unreachableCodes.has(e.code)) {
      return e.code === "PROTOCOL_CONNECTION_LOST" ? "connection_lost" : "unreachable";
    }
    if (e.fatal === true || /pool is closed|closed state/i.test(e.message ?? "")) {
      return "connection_lost";
    }
  }
  return undefined;
}

/** The client gave up before COMMIT: the transaction was cut off and rolled back. */
export class Abandoned extends Error {
  constructor() {
    super("every caller gave up before the commit; rolled back");
    this.name = "Abandoned";
  }
}

/** An attempt was rolled back for staying open past its `commitWithinMs` (db/keyset.ts). */
export class OpenTooLong extends Error {
  constructor() {
    super("the transaction stayed open too long before COMMIT; rolled back");
    this.name = "OpenTooLong";
  }
}

/** No pooled connection came free before the request's deadline. */
export class PoolExhausted extends Error {
  constructor() {
    super("no database connection came free in time");
    this.name = "PoolExhausted";
  }
}

export function isLockWaitTimeout(err: unknown): boolean {
  return causeChain(err).some((e) => e.errno === 1205);
}

const detailByReason: Record<TransientReason, string> = {
  deadlock: "Too much contention on the same rows; retry shortly.",
  lock_wait_timeout: "Too much contention on the same rows; retry shortly.",
  interrupted: "The database cancelled the request; retry shortly.",
  statement_timeout: "The database took too long; retry shortly.",
  node_not_ready: "The database node is not ready; retry shortly.",
  connection_lost: "The connection to the database was lost; retry shortly.",
  unreachable: "The database is unreachable; retry shortly.",
};

/** Turns database failures into the contract's 503; anything else is returned as it came. */
export function toAppError<E>(err: E): AppError | E {
  if (err instanceof AppError) return err;
  if (err instanceof Abandoned) return gaveUp();
  if (err instanceof PoolExhausted) {
    return serviceUnavailable("Every database connection is busy; retry shortly.");
  }
  const reason = transientReason(err);
  return reason ? serviceUnavailable(detailByReason[reason]) : err;
}
