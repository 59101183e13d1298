import { cpus } from "node:os";
import { Cron } from "croner";
import { z } from "zod";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const mysqlUrl = z
  .url({
    protocol: /^mysql$/,
    error: "must be a mysql:// URL, e.g. mysql://root@127.0.0.1:3306/flash_sale",
  })
  .refine((value) => new URL(value).pathname.length > 1, "must name a database in its path");

const webhookSecret = z
  .string()
  .regex(
    /^whsec_[A-Za-z0-9+/=]+$/,
    "must be a Standard Webhooks secret: whsec_ followed by base64",
  );

const cronPattern = z.string().refine((pattern) => {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}, "must be a cron pattern croner understands, e.g. '* * * * * *' (with seconds)");

const emptyAsUnset = (value: unknown) => (value === "" ? undefined : value);

export const ConfigSchema = z.object({
  PORT: int(0, 65535).default(3000),
  DATABASE_URL: mysqlUrl.default("mysql://root@127.0.0.1:3306/flash_sale"),
  // Hold batching funnels a hot product through one connection, so a few per core suffice;
  // more only queue inside MariaDB.
  DB_POOL_SIZE: int(1, 1000).default(Math.max(4, cpus().length * 4)),
  DB_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2000),
  DB_LOCK_WAIT_TIMEOUT_SECONDS: int(1, 3600).default(5),
  REQUEST_TIMEOUT_MS: int(100, 120_000).default(10_000),
  WORKERS: int(1, 256).default(1),
  HOLD_TTL_SECONDS: int(1, 86_400).default(120),
  ORDER_PAYMENT_TIMEOUT_SECONDS: int(1, 604_800).default(900),
  MAX_HOLD_QTY: int(1, 1_000_000).default(100),
  HOLD_BATCH_MAX: int(1, 1000).default(64),
  PRODUCT_CACHE_TTL_MS: int(0, 3_600_000).default(1000),
  IDEMPOTENCY_KEY_TTL_HOURS: int(1, 8760).default(24),
  SWEEPER_CRON: cronPattern.default("* * * * * *"),
  SWEEPER_BATCH_SIZE: int(1, 10_000).default(500),
  RECONCILE_CRON: cronPattern.default("0 * * * * *"),
  ADMIN_TOKEN: z.preprocess(emptyAsUnset, z.string().optional()),
  WEBHOOK_SECRET: z.preprocess(emptyAsUnset, webhookSecret.optional()),
  // Set by the supervisor on the processes it starts; not for operators.
  FLASH_SALE_WORKER_ID: z.string().regex(/^\d+$/).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = ConfigSchema.safeParse(env);
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

/** The one place that reads process.env; prints every bad variable and exits non-zero. */
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
