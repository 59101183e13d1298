/**
 * `bun run token <buyer>`: a buyer token (HS256 JWT, valid one hour) for BUYER_JWT_SECRET, with
 * BUYER_JWT_ISSUER and BUYER_JWT_AUDIENCE where set, to try the shopper API locally. Bun reads
 * `.env.local` (written by scripts/serve.sh) by itself. A real store signs its own tokens.
 */
import { SignJWT } from "jose";
import { loadConfig } from "../src/config";

const buyer = process.argv[2] ?? "";
if (buyer.length < 1 || buyer.length > 128) {
  console.error("usage: bun run token <buyer id, 1 to 128 characters>");
  process.exit(2);
}
const config = loadConfig();
if (!config.BUYER_JWT_SECRET) {
  console.error("BUYER_JWT_SECRET is not set (bash scripts/serve.sh writes one to .env.local)");
  process.exit(1);
}
let token = new SignJWT({})
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(buyer)
  .setIssuedAt()
  .setExpirationTime("1h");
if (config.BUYER_JWT_ISSUER) token = token.setIssuer(config.BUYER_JWT_ISSUER);
if (config.BUYER_JWT_AUDIENCE) token = token.setAudience(config.BUYER_JWT_AUDIENCE);
console.log(await token.sign(new TextEncoder().encode(config.BUYER_JWT_SECRET)));
