import { createHash, timingSafeEqual } from "node:crypto";
import { createMiddleware } from "hono/factory";
import { AppError } from "../../errors";

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Bearer token check in constant time; with no token configured every admin call is refused. */
export function adminAuth(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return createMiddleware(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer (.+)$/i.exec(header);
    if (!expected || !match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new AppError("unauthorized", "This route needs Authorization: Bearer <ADMIN_TOKEN>.");
    }
    await next();
  });
}
