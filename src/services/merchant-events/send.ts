import { Webhook } from "standardwebhooks";
import type { ClaimedEvent } from "./due";

/** The delay before retry `attempts` + 1: from the base, doubling, capped, less up to a quarter. */
export function backoffMs(
  attempts: number,
  config: { MERCHANT_WEBHOOK_BACKOFF_MS: number; MERCHANT_WEBHOOK_BACKOFF_MAX_MS: number },
  random = Math.random(),
): number {
  const doubled = config.MERCHANT_WEBHOOK_BACKOFF_MS * 2 ** Math.min(attempts - 1, 40);
  const capped = Math.min(doubled, config.MERCHANT_WEBHOOK_BACKOFF_MAX_MS);
  // Jitter spreads the retries of a receiver's outage, so they do not all come back at once.
  return capped * (1 - random / 4);
}

/** The payload: `data` is stored as JSON text and goes out as it is. */
function payloadOf(event: ClaimedEvent): string {
  return `{"type":"${event.type}","timestamp":"${event.createdAt.toISOString()}","data":${event.data}}`;
}

/** One attempt: undefined when the receiver accepted it, else why not ("stopping" if cut short). */
export type Send = (event: ClaimedEvent) => Promise<string | undefined>;

/** Sends an event to `url`, signed per Standard Webhooks with `secret`, within `timeoutMs`. */
export function signedSender(
  url: string,
  secret: string,
  timeoutMs: number,
  stopping: AbortSignal,
): Send {
  const signer = new Webhook(secret);
  return async (event) => {
    const body = payloadOf(event);
    const id = String(event.id);
    // One instant for the header and the signature: two could fall either side of a second.
    const now = new Date();
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "flash-sale-webhooks",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": signer.sign(id, now, body),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.any([stopping, AbortSignal.timeout(timeoutMs)]),
      });
      await response.body?.cancel();
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (err) {
      if (stopping.aborted) return "stopping";
      const name = (err as Error).name;
      if (name === "TimeoutError" || name === "AbortError") return `no answer in ${timeoutMs} ms`;
      return `request failed: ${(err as Error).message}`;
    }
  };
}
