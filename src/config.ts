import { cpus } from "node:os";
import { Cron } from "croner";
import { z } from "zod";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const mysqlUrl = z
  .url({
    protocol: /^mysql$/,
    error: "must be a mysql:// URL, e.g. mysql://root@127.0.0.1:3306/flash_sale",
  })
  .refine((value) => {
    // Runs even after the URL check failed: a value that is no URL was reported there.
    try {
      return new URL(value).pathname.length > 1;
    } catch {
      return true;
    }
  }, "must name a database in its path");

const WEBHOOK_SECRET_PREFIX = "whsec_";
/** Standard Webhooks asks for 24 to 64 random bytes; fewer is accepted with a warning. */
export const WEBHOOK_SECRET_MIN_BYTES = 24;
const WEBHOOK_SECRET_MAX_BYTES = 64;

/** The decoded key of a `whsec_` secret, or a reason it is not one. */
export function webhookSecretKey(secret: string): Buffer | string {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return "must start with whsec_";
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  // Canonical base64 only: Node's decoder skips bad characters, the signer's throws at start-up.
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) {
    return "must be whsec_ followed by base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)";
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) return "has an empty key after whsec_";
  if (key.length > WEBHOOK_SECRET_MAX_BYTES) {
    return `decodes to ${key.length} bytes; Standard Webhooks secrets are 24 to 64 bytes`;
  }
  return key;
}

const webhookSecret = z.string().superRefine((value, ctx) => {
  const key = webhookSecretKey(value);
  if (typeof key === "string") ctx.addIssue({ code: "custom", message: key });
});

const cronPattern = z.string().refine((pattern) => {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}, "must be a cron pattern croner understands, e.g. '* * * * * *' (with seconds)");

const emptyAsUnset = (value: unknown) => (value === "" ? undefined : value);

/** `true` exactly switches it on; anything else leaves it off, so a typo fails closed. */
const exactlyTrue = z
  .string()
  .optional()
  .transform((value) => value === "true");

/** Comma-separated browser origins (`https://shop.example`), as a browser sends `Origin`. */
const origins = z.string().transform((value, ctx) => {
  const listed: string[] = [];
  for (const item of value.split(",")) {
    const origin = item.trim();
    if (origin === "") continue;
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== "/" || url.search || url.hash) {
      ctx.addIssue({
        code: "custom",
        message: `"${origin}" is not an origin; list origins like https://shop.example or http://localhost:5173, separated by commas`,
      });
      return z.NEVER;
    }
    listed.push(url.origin);
  }
  return listed;
});

export const ConfigSchema = z.object({
  PORT: int(0, 65535).default(3000),
  DATABASE_URL: mysqlUrl.default("mysql://root@127.0.0.1:3306/flash_sale"),
  // Hold batching funnels a hot product through one connection, so a few per core suffice;
  // more only queue inside MariaDB.
  DB_POOL_SIZE: int(1, 1000).default(Math.max(4, cpus().length * 4)),
  DB_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2000),
  DB_LOCK_WAIT_TIMEOUT_SECONDS: int(1, 3600).default(5),
  // How long start-up waits for a database that does not answer yet (a container started
  // before its database), trying once a second.
  DB_STARTUP_TIMEOUT_SECONDS: int(0, 3600).default(60),
  REQUEST_TIMEOUT_MS: int(100, 120_000).default(10_000),
  WORKERS: int(1, 256).default(1),
  HOLD_TTL_SECONDS: int(1, 86_400).default(120),
  ORDER_PAYMENT_TIMEOUT_SECONDS: int(1, 604_800).default(900),
  MAX_HOLD_QTY: int(1, 1_000_000).default(100),
  // As many as the default queue holds: under a burst one transaction can take the whole queue.
  HOLD_BATCH_MAX: int(1, 10_000).default(1024),
  // Hold requests one process keeps waiting per product; one more is a 429 at once, so a storm
  // cannot grow memory or latency without bound.
  HOLD_QUEUE_MAX: int(1, 1_000_000).default(1024),
  PRODUCT_CACHE_TTL_MS: int(0, 3_600_000).default(1000),
  // Before a sale opens, a hold is refused from memory while this process's clock puts the
  // opening further away than this; closer, the database's clock decides.
  SALE_CLOCK_MARGIN_MS: int(0, 3_600_000).default(1000),
  // Shifts this process's own clock, for tests of clock skew between processes; the database's
  // clock, which decides the sale window, is never shifted. Not for operators.
  TEST_CLOCK_OFFSET_MS: int(-86_400_000, 86_400_000).default(0),
  IDEMPOTENCY_KEY_TTL_HOURS: int(1, 8760).default(24),
  SWEEPER_CRON: cronPattern.default("* * * * * *"),
  SWEEPER_BATCH_SIZE: int(1, 10_000).default(500),
  RECONCILE_CRON: cronPattern.default("0 * * * * *"),
  ADMIN_TOKEN: z.preprocess(emptyAsUnset, z.string().optional()),
  WEBHOOK_SECRET: z.preprocess(emptyAsUnset, webhookSecret.optional()),
  // Without a secret every webhook is refused (an unsigned one could mark any order paid);
  // this development switch accepts them unsigned instead, and start-up warns about it.
  WEBHOOK_ALLOW_UNSIGNED: exactlyTrue,
  // The signing secret of a Stripe webhook endpoint (Stripe's own scheme, not base64); unset:
  // every call of POST /api/payments/stripe is refused.
  STRIPE_WEBHOOK_SECRET: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(/^whsec_\S+$/, "must be the endpoint's signing secret, whsec_ and its key")
      .optional(),
  ),
  // A payment event for an order that never appears is kept this long, then purged.
  DEFERRED_EVENT_TTL_HOURS: int(1, 87_600).default(72),
  // Buyer identity (see src/services/buyers.ts): HS256 with the secret's UTF-8 bytes, and/or
  // RS256, ES256 and EdDSA keys from a JWKS URL. Neither set: anonymous shoppers.
  BUYER_JWT_SECRET: z.preprocess(emptyAsUnset, z.string().optional()),
  BUYER_JWKS_URL: z.preprocess(
    emptyAsUnset,
    z
      .url({ protocol: /^https?$/, error: "must be an http(s):// URL of a JWKS document" })
      .optional(),
  ),
  BUYER_JWT_ISSUER: z.preprocess(emptyAsUnset, z.string().optional()),
  BUYER_JWT_AUDIENCE: z.preprocess(emptyAsUnset, z.string().optional()),
  // Set by the supervisor on the processes it starts; not for operators.
  FLASH_SALE_WORKER_ID: z.string().regex(/^\d+$/).optional(),
  // Live stock (GET /api/products/:id/events): at most one event per product per interval,
  // and at most this many open streams per process.
  STOCK_EVENTS_INTERVAL_MS: int(10, 60_000).default(250),
  STOCK_EVENTS_MAX_STREAMS: int(0, 1_000_000).default(10_000),
  // Merchant events (src/jobs/merchant-dispatcher.ts): sent when the URL is set, else only
  // recorded. The secret is required with the URL (checked below).
  MERCHANT_WEBHOOK_URL: z.preprocess(
    emptyAsUnset,
    z.url({ protocol: /^https?$/, error: "must be an http(s):// URL" }).optional(),
  ),
  MERCHANT_WEBHOOK_SECRET: z.preprocess(emptyAsUnset, webhookSecret.optional()),
  MERCHANT_WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(5000),
  MERCHANT_WEBHOOK_MAX_ATTEMPTS: int(1, 1000).default(12),
  MERCHANT_WEBHOOK_CONCURRENCY: int(1, 1000).default(8),
  MERCHANT_EVENT_RETENTION_DAYS: int(1, 3650).default(30),
  // The first retry's delay, doubling up to the cap; smaller values are for tests.
  MERCHANT_WEBHOOK_BACKOFF_MS: int(10, 3_600_000).default(1000),
  MERCHANT_WEBHOOK_BACKOFF_MAX_MS: int(10, 86_400_000).default(300_000),
  // How often an idle dispatcher looks for due events (events of other processes included).
  MERCHANT_WEBHOOK_POLL_MS: int(10, 60_000).default(250),
  // Browser origins allowed to call the shopper API and read products (CORS); none when unset.
  CORS_ORIGINS: z.preprocess(emptyAsUnset, origins.default([])),
  // Each buyer (or anonymous client address) may send this many hold and order writes a
  // second per process, in bursts of twice that; unset, no limit.
  SHOPPER_RATE_PER_SECOND: z.preprocess(emptyAsUnset, int(1, 1_000_000).optional()),
  // Behind a proxy: an anonymous client's address is the last one in X-Forwarded-For.
  TRUST_PROXY: z.preprocess(emptyAsUnset, z.stringbool().default(false)),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Rules that span variables, reported like the others. */
const CheckedConfigSchema = ConfigSchema.superRefine((config, ctx) => {
  if (config.MERCHANT_WEBHOOK_URL && !config.MERCHANT_WEBHOOK_SECRET) {
    ctx.addIssue({
      code: "custom",
      path: ["MERCHANT_WEBHOOK_SECRET"],
      message: "is required when MERCHANT_WEBHOOK_URL is set (a whsec_ secret to sign events with)",
    });
  }
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = CheckedConfigSchema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.join(".");
      const value = env[name];
      const shown = value === undefined || /SECRET|TOKEN/.test(name) ? "" : ` (got "${value}")`;
      return `${name}: ${issue.message}${shown}`;
    }),
  );
}

/** The one place that reads process.env; prints every bad variable in one line, exits 1. */
export function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}
