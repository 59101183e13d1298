import { Webhook } from "standardwebhooks";
import type { Client, Reply } from "../fixtures";

/** The payment provider's secret for suites that configure WEBHOOK_SECRET with it. */
export const PAYMENT_SECRET = `whsec_${Buffer.from("payment-provider-secret-32-bytes").toString("base64")}`;
const signer = new Webhook(PAYMENT_SECRET);

/** A payment webhook signed with PAYMENT_SECRET, as the provider sends it. */
export function signedPayment(
  api: Client,
  event: { idempotency_key: string; order_id: number; status: "succeeded" | "failed" },
): Promise<Reply> {
  const body = JSON.stringify(event);
  const id = event.idempotency_key;
  return api.post("/api/payments/webhook", body, {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
    "webhook-signature": signer.sign(id, new Date(), body),
  });
}
