import { AppError, serviceUnavailable } from "../errors";

type DriverError = { errno?: number; code?: string; fatal?: boolean; message?: string };

const DEADLOCK = 1213;
const LOCK_WAIT_TIMEOUT = 1205;

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

/** Drizzle wraps driver errors; the errno that matters sits somewhere down the cause chain. */
function driverError(err: unknown): DriverError | undefined {
  return causeChain(err).find((e) => typeof e.errno === "number" || typeof e.code === "string");
}

/** Why a transaction may succeed if run again, or undefined when it would not. */
export function retryReason(err: unknown): "deadlock" | "lock_wait_timeout" | undefined {
  const errno = driverError(err)?.errno;
  if (errno === DEADLOCK) return "deadlock";
  if (errno === LOCK_WAIT_TIMEOUT) return "lock_wait_timeout";
  return undefined;
}

export function isLockWaitTimeout(err: unknown): boolean {
  return driverError(err)?.errno === LOCK_WAIT_TIMEOUT;
}

function causeChain(err: unknown): DriverError[] {
  const chain: DriverError[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    chain.push(current as DriverError);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function isUnreachable(err: unknown): boolean {
  return causeChain(err).some(
    (e) =>
      (e.code !== undefined && unreachableCodes.has(e.code)) ||
      e.fatal === true ||
      /pool is closed|closed state/i.test(e.message ?? ""),
  );
}

/** Turns database failures into the contract's 503; anything unknown stays as it is. */
export function toAppError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (isUnreachable(err)) return serviceUnavailable("The database is unreachable; retry shortly.");
  if (retryReason(err)) return serviceUnavailable("The database is too busy; retry shortly.");
  return err;
}
