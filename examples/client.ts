// A script of your own against the service, through the typed client (client/, which
// tsconfig.json's paths name @flash-sale/client in this checkout). With `bash scripts/serve.sh`
// running, from the checkout:
//   set -a; . ./.env.local; set +a
//   BUYER_TOKEN=$(bun run --silent token customer-7) bun examples/client.ts
import { createClient } from "@flash-sale/client";

const baseUrl = process.env.FLASH_SALE_URL ?? "http://localhost:3000";

const shop = createClient(baseUrl, { token: process.env.BUYER_TOKEN });
const res = await shop.api.holds.$post({
  header: { "idempotency-key": crypto.randomUUID() }, // optional
  json: { product_id: 1, qty: 2 }, // checked by tsc
});
if (res.status === 201) {
  const hold = await res.json(); // { hold_id, product_id, qty, status, expires_at, ... }
  console.log(`hold ${hold.hold_id}: ${hold.qty} units until ${hold.expires_at}`);
} else if (res.status === 409) {
  const problem = await res.json();
  console.log(`refused: ${problem.code}`); // "insufficient_stock" | "sale_not_started" | ...
} else {
  const problem = await res.json();
  console.error(`hold: ${res.status} ${problem.code}: ${problem.detail}`);
  process.exit(1);
}

const operator = createClient(baseUrl, { token: process.env.ADMIN_TOKEN });
const page = await operator.api.admin.products.$get({ query: { limit: "50" } });
if (page.status !== 200) {
  console.error(`products: ${page.status} ${(await page.json()).code}`);
  process.exit(1);
}
for (const p of (await page.json()).products) {
  console.log(`${p.name}: ${p.available} available, ${p.units_paid} paid`);
}
