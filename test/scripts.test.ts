import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { Webhook } from "standardwebhooks";

// The local helpers the README's examples use: bun run token, bun run sign-webhook.

const ROOT = join(import.meta.dir, "..");
const SECRET = "a-buyer-secret-of-at-least-32-bytes!";
const WEBHOOK_SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;

function run(script: string, args: string[], env: Record<string, string>) {
  const result = Bun.spawnSync([process.execPath, `scripts/${script}.ts`, ...args], {
    cwd: ROOT,
    // NODE_ENV=test: Bun then leaves a developer's .env.local alone, so only `env` configures it.
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", ...env },
  });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

describe("bun run token", () => {
  test("an HS256 token for the buyer, with the configured issuer and audience", async () => {
    const { code, out } = run("token", ["customer-42"], {
      BUYER_JWT_SECRET: SECRET,
      BUYER_JWT_ISSUER: "https://shop.example",
      BUYER_JWT_AUDIENCE: "flash-sale",
    });
    expect(code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(
      out.trim(),
      new TextEncoder().encode(SECRET),
      { issuer: "https://shop.example", audience: "flash-sale" },
    );
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload.sub).toBe("customer-42");
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });

  test("without a secret or a buyer: one line and a non-zero exit", () => {
    const missing = run("token", ["customer-42"], {});
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      "BUYER_JWT_SECRET is not set (bash scripts/serve.sh writes one to .env.local)\n",
    );
    const usage = run("token", [], { BUYER_JWT_SECRET: SECRET });
    expect(usage.code).toBe(2);
    expect(usage.err.split("\n").length).toBe(2);
  });
});

describe("bun run sign-webhook", () => {
  test("headers a Standard Webhooks verifier accepts for that exact body, and only that body", () => {
    const body = '{"idempotency_key":"evt_1","order_id":1,"status":"succeeded"}';
    const { code, out } = run("sign-webhook", [body], { WEBHOOK_SECRET });
    expect(code).toBe(0);
    const headers = Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
    );
    expect(Object.keys(headers).sort()).toEqual([
      "webhook-id",
      "webhook-signature",
      "webhook-timestamp",
    ]);
    const verifier = new Webhook(WEBHOOK_SECRET);
    expect(verifier.verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => verifier.verify(body.replace("1", "2"), headers)).toThrow();
  });

  test("without a secret: one line and a non-zero exit", () => {
    const missing = run("sign-webhook", ["{}"], {});
    expect(missing.code).toBe(1);
    expect(missing.err.split("\n").length).toBe(2);
  });
});
