import pino from "pino";

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: no code path logs these, but a careless future one must not leak them.
    redact: {
      paths: [
        "req.headers.authorization",
        'req.headers["webhook-signature"]',
        "config.ADMIN_TOKEN",
        "config.WEBHOOK_SECRET",
      ],
      censor: "[redacted]",
    },
  });
}
