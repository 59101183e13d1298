import { createDb, createPool } from "../db/client";
import { Deadline } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { type ClaimedEvent, claimDueEvents } from "../services/merchant-events/due";
import { oldestUndeliveredAge, outcomeRecorder } from "../services/merchant-events/outcomes";
import { backoffMs, signedSender } from "../services/merchant-events/send";
import { logJobFailure } from "./failures";

/**
 * Past the request's own timeout, the lease covers the claim's round trip and the pauses of a
 * busy process, so the lease never lapses while this process may still be sending.
 */
const LEASE_MARGIN_MS = 2000;
const AGE_EVERY_MS = 1000;
/**
 * The dispatcher's own connections: its claims and records never wait behind the request path
 * for a pooled connection, nor keep one from a hold. Claims run one at a time, records one at a
 * time, and a failure's record or the age beside them.
 */
const POOL_SIZE = 3;
const JOB = "merchant-dispatcher";

export type MerchantDispatcher = {
  /** Stops claiming, cuts deliveries under way short and gives their leases back. */
  stop(): Promise<void>;
};

/**
 * Sends merchant events to MERCHANT_WEBHOOK_URL. This is the scheduling: it claims the due
 * events of as many orders as the concurrency limit leaves room for (services/merchant-events/
 * due.ts), sends each order's in turn (send.ts signs and sends one) and has outcomes.ts record
 * what became of them. Looks again once half its orders under way have ended (a later event
 * of theirs may have come meanwhile), at once after a full claim, and every
 * MERCHANT_WEBHOOK_POLL_MS otherwise. Not started without a URL: events are then only recorded.
 */
export function startMerchantDispatcher(requestDeps: Deps): MerchantDispatcher | undefined {
  const { config } = requestDeps;
  const url = config.MERCHANT_WEBHOOK_URL;
  const secret = config.MERCHANT_WEBHOOK_SECRET;
  if (!url || !secret) return undefined;
  const pool = createPool({ ...config, DB_POOL_SIZE: POOL_SIZE });
  // Both handles on the dispatcher's own pool: a service reading through `deps.db` would
  // otherwise take a connection from the request path's.
  const deps: Deps = { ...requestDeps, pool, db: createDb(pool) };
  const timeoutMs = config.MERCHANT_WEBHOOK_TIMEOUT_MS;
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let running = false;
  let rerun = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let ageAt = 0;
  let looking: Promise<void> = Promise.resolve();
  let measuring: Promise<void> = Promise.resolve();
  const refillAt = Math.floor(config.MERCHANT_WEBHOOK_CONCURRENCY / 2);

  const bounded = async <T>(work: (deadline: Deadline) => Promise<T>): Promise<T> => {
    const deadline = Deadline.start(config.REQUEST_TIMEOUT_MS);
    try {
      return await work(deadline);
    } finally {
      deadline.clear();
    }
  };

  const send = signedSender(url, secret, timeoutMs, stopping.signal);
  const outcomes = outcomeRecorder(deps, bounded, (err) => logJobFailure(deps, JOB, err));

  /** One attempt; whether the event was delivered. */
  const deliver = async (event: ClaimedEvent): Promise<boolean> => {
    const error = await send(event);
    if (error === undefined) return true;
    if (error === "stopping" && stopping.signal.aborted) {
      await outcomes.released([event], true);
      return false;
    }
    await outcomes.failed(event, error, backoffMs(event.attempts, config));
    return false;
  };

  /**
   * Sends one order's claimed events in order, each once the one before it was accepted, and
   * records those delivered together. The rest go back unsent when one is not delivered, or
   * when the lease left would not cover another attempt's timeout and the record after it.
   */
  const deliverChain = async (chain: ClaimedEvent[], leaseEndsAt: number): Promise<void> => {
    const delivered: ClaimedEvent[] = [];
    try {
      for (const [i, event] of chain.entries()) {
        const leaseLeft = leaseEndsAt - Date.now();
        if (i > 0 && (stopping.signal.aborted || leaseLeft < timeoutMs + LEASE_MARGIN_MS / 2)) {
          await outcomes.released(chain.slice(i), false);
          return;
        }
        if (!(await deliver(event))) {
          await outcomes.released(chain.slice(i + 1), false);
          return;
        }
        delivered.push(event);
      }
    } finally {
      if (delivered.length > 0) await outcomes.delivered(delivered);
    }
  };

  const start = (chain: ClaimedEvent[], leaseEndsAt: number) => {
    const delivery = deliverChain(chain, leaseEndsAt)
      .catch((err) => logJobFailure(deps, JOB, err))
      .finally(() => {
        inFlight.delete(delivery);
        // Claims are made for several orders at once: one look per ended order would cost a
        // claim's queries per order under a sale.
        if (inFlight.size <= refillAt) kick(0);
      });
    inFlight.add(delivery);
  };

  /** The age of the oldest undelivered event, beside the claims rather than before one. */
  const measureAge = () => {
    if (Date.now() - ageAt < AGE_EVERY_MS) return;
    ageAt = Date.now();
    measuring = bounded((d) => oldestUndeliveredAge(deps, d))
      .then((age) => deps.metrics.merchantOldestUndelivered.set(age))
      .catch((err) => logJobFailure(deps, JOB, err));
  };

  /** Claims what there is room for; the delay before looking again. */
  const tick = async (): Promise<number> => {
    measureAge();
    const room = config.MERCHANT_WEBHOOK_CONCURRENCY - inFlight.size;
    if (room <= 0) return config.MERCHANT_WEBHOOK_POLL_MS;
    const leaseMs = timeoutMs + LEASE_MARGIN_MS;
    // The lease began after this, by the database's clock: this process's view of it ends early.
    const leaseEndsAt = Date.now() + leaseMs;
    const claimed = await bounded((d) => claimDueEvents(deps, room, leaseMs, d));
    for (const chain of claimed) start(chain, leaseEndsAt);
    // A full claim suggests more are due: look again at once.
    return claimed.length === room ? 0 : config.MERCHANT_WEBHOOK_POLL_MS;
  };

  const run = async () => {
    running = true;
    let next = config.MERCHANT_WEBHOOK_POLL_MS;
    try {
      next = await tick();
    } catch (err) {
      logJobFailure(deps, JOB, err);
    } finally {
      running = false;
    }
    const again = rerun;
    rerun = false;
    kick(again ? 0 : next);
  };

  function kick(delayMs: number): void {
    if (stopped) return;
    if (running) {
      if (delayMs === 0) rerun = true;
      return;
    }
    const at = Date.now() + delayMs;
    if (at >= timerAt) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timerAt = Number.POSITIVE_INFINITY;
      looking = run();
    }, delayMs);
  }

  kick(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      stopping.abort();
      // A look under way may still start deliveries; they end at once, aborted.
      await looking;
      await Promise.allSettled([...inFlight, measuring]);
      await pool.end().catch(() => undefined);
    },
  };
}
