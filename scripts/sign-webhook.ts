/**
 * `bun run sign-webhook '<body>'`: the three Standard Webhooks headers a payment provider would
 * send with that exact body, signed with WEBHOOK_SECRET now (valid five minutes), one `name:
 * value` line each: the format of curl's `-H @file`. Bun reads `.env.local` by itself.
 */
import { Webhook } from "standardwebhooks";
import { loadConfig } from "../src/config";

const body = process.argv[2];
if (body === undefined) {
  console.error("usage: bun run sign-webhook '<the exact JSON body to send>'");
  process.exit(2);
}
const config = loadConfig();
if (!config.WEBHOOK_SECRET) {
  console.error("WEBHOOK_SECRET is not set (bash scripts/serve.sh writes one to .env.local)");
  process.exit(1);
}
const id = `msg_${crypto.randomUUID()}`;
const now = new Date();
const signature = new Webhook(config.WEBHOOK_SECRET).sign(id, now, body);
console.log(`webhook-id: ${id}`);
console.log(`webhook-timestamp: ${Math.floor(now.getTime() / 1000)}`);
console.log(`webhook-signature: ${signature}`);
