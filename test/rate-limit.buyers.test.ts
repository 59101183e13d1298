import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { client, createProduct } from "./helpers/fixtures";
import { holdsOf, statuses, useLimited } from "./helpers/rate-limit";

describe("buyers by their token's sub", () => {
  const SECRET = "buyer-secret-for-rate-tests-0123456789";
  const token = (sub: string) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(SECRET));

  const limited = useLimited({ SHOPPER_RATE_PER_SECOND: "1", BUYER_JWT_SECRET: SECRET }, 1);

  test("two buyers on one address have a bucket each; a refused token takes nothing", async () => {
    const productId = await createProduct(client(limited.ctx.app), 100);
    const as = async (sub: string) => ({ authorization: `Bearer ${await token(sub)}` });
    const hold = async (sub: string) =>
      limited.api.post("/api/holds", { product_id: productId, qty: 1 }, await as(sub));
    // A request without a valid token is a 401 and takes nothing from anyone.
    const stranger = await limited.api.post(
      "/api/holds",
      { product_id: productId, qty: 1 },
      { authorization: "Bearer nope" },
    );
    expect(stranger.status).toBe(401);
    const ann = [await hold("ann"), await hold("ann"), await hold("ann")];
    const ben = [await hold("ben"), await hold("ben"), await hold("ben")];
    expect(statuses(ann)).toEqual([201, 201, 429]);
    expect(statuses(ben)).toEqual([201, 201, 429]);
    expect(await holdsOf(limited.ctx, productId)).toBe(4);
  });
});
