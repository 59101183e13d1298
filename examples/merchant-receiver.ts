// A merchant's receiver of flash-sale's events: verifies each delivery with the secret the
// service signs with, and handles each event id once. Run beside the service, on a port of its
// own, with the secret set on both sides:
//   MERCHANT_WEBHOOK_SECRET=whsec_… PORT=4000 bun examples/merchant-receiver.ts
// and the service started with MERCHANT_WEBHOOK_URL=http://127.0.0.1:4000/ and the same secret.
import { Webhook } from "standardwebhooks";

type MerchantEvent = { type: string; timestamp: string; data: Record<string, unknown> };

const secret = process.env.MERCHANT_WEBHOOK_SECRET;
if (!secret?.startsWith("whsec_")) {
  console.error("MERCHANT_WEBHOOK_SECRET must be set to the service's whsec_… secret");
  process.exit(1);
}
const wh = new Webhook(secret);
// At least once: an id may come again. A real receiver stores the ids it handled in the same
// transaction as the work; a set is enough to show it.
const handled = new Set<string>();

const server = Bun.serve({
  port: Number(process.env.PORT ?? 4000),
  async fetch(req) {
    const body = await req.text(); // the raw text: re-serialised JSON would not verify
    let event: MerchantEvent;
    try {
      event = wh.verify(body, Object.fromEntries(req.headers)) as MerchantEvent;
    } catch {
      return new Response("bad signature", { status: 400 });
    }
    const id = req.headers.get("webhook-id") ?? "";
    if (handled.has(id)) return new Response("duplicate");
    handled.add(id);
    console.log(`${id} ${event.type} ${JSON.stringify(event.data)}`); // fulfil, mail, book…
    return new Response("ok"); // any 2xx within MERCHANT_WEBHOOK_TIMEOUT_MS delivers it
  },
});
console.log(`receiving merchant events on ${server.url}`);
