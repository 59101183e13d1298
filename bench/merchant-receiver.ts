/**
 * A merchant's endpoint for `bun run bench`, in a process of its own (the load generator's event
 * loop would otherwise delay its answers): verifies each delivery with standardwebhooks and
 * prints `A <webhook-id> <arrival ms> <delay ms>` at an event's first arrival, `B` for a bad
 * signature. `POST /quiet` stops the checks: it then only answers 200.
 */
import { Webhook } from "standardwebhooks";

const verifier = new Webhook(process.env.MERCHANT_SECRET ?? "");
const seen = new Set<string>();
let checking = true;

Bun.serve({
  port: Number(process.env.RECEIVER_PORT),
  hostname: "127.0.0.1",
  fetch: async (req) => {
    if (new URL(req.url).pathname === "/quiet") {
      checking = false;
      return new Response("quiet");
    }
    const body = await req.text();
    if (!checking) return new Response("ok");
    try {
      const payload = verifier.verify(body, Object.fromEntries(req.headers)) as {
        timestamp: string;
      };
      const id = req.headers.get("webhook-id") ?? "";
      if (!seen.has(id)) {
        seen.add(id);
        const now = Date.now();
        console.log(`A ${id} ${now} ${now - Date.parse(payload.timestamp)}`);
      }
      return new Response("ok");
    } catch {
      console.log("B");
      return new Response("bad signature", { status: 400 });
    }
  },
});
console.log("ready");
