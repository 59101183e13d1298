import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { jwtVerify } from "jose";
import { headerOf, hs256Verifier } from "../src/services/buyers/hs256";

// hs256.ts verifies HS256 tokens itself, synchronously, by jose's rules: each token here is
// put to both, and both must agree on whether it is valid and, if not, on the error and claim.

const SECRET = new TextEncoder().encode("a-secret-of-thirty-two-bytes-0123");
const ISSUER = "https://shop.example";
const AUDIENCE = "flash-sale";
const LEEWAY = 30;
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const sign = (head: string, body: string) =>
  `${head}.${body}.${createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url")}`;
const token = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  sign(b64({ alg: "HS256", ...header }), b64(claims));
const valid = () => ({ iss: ISSUER, aud: AUDIENCE, sub: "alice", exp: now() + 600 });

const cases: [string, () => string][] = [
  ["a valid token", () => token(valid())],
  ["aud as a list holding ours", () => token({ ...valid(), aud: ["other", AUDIENCE] })],
  ["aud as a list without ours", () => token({ ...valid(), aud: ["other"] })],
  ["exp within the leeway", () => token({ ...valid(), exp: now() - 10 })],
  ["exp past the leeway", () => token({ ...valid(), exp: now() - 31 })],
  ["exp as a string", () => token({ ...valid(), exp: String(now() + 600) })],
  ["no exp", () => token({ iss: ISSUER, aud: AUDIENCE, sub: "alice" })],
  ["no sub", () => token({ iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })],
  ["no iss", () => token({ aud: AUDIENCE, sub: "alice", exp: now() + 600 })],
  ["no aud, no iss, no sub", () => token({ exp: now() + 600 })],
  ["the wrong issuer", () => token({ ...valid(), iss: "https://evil.example" })],
  ["nbf in the future past the leeway", () => token({ ...valid(), nbf: now() + 60 })],
  ["nbf within the leeway", () => token({ ...valid(), nbf: now() + 20 })],
  ["iat as a string", () => token({ ...valid(), iat: "yesterday" })],
  ["a critical header", () => token(valid(), { crit: ["exp"], exp: 1 })],
  ["a payload that is a list", () => sign(b64({ alg: "HS256" }), b64([1, 2]))],
  [
    "a payload that is not UTF-8",
    () => sign(b64({ alg: "HS256" }), Buffer.from([0x7b, 0xff, 0x7d]).toString("base64url")),
  ],
  ["a payload that is not JSON", () => sign(b64({ alg: "HS256" }), b64("{sub:"))],
  [
    "a signature by another secret",
    () => {
      const [head, body] = token(valid()).split(".");
      return `${head}.${body}.${createHmac("sha256", "other").update(`${head}.${body}`).digest("base64url")}`;
    },
  ],
  ["a stripped signature", () => `${token(valid()).split(".").slice(0, 2).join(".")}.`],
  // One stray character (a segment of 4n + 1): Buffer's decoder would drop it, jose's refuses.
  ["a stray character after the payload", () => sign(b64({ alg: "HS256" }), `${b64(valid())}A`)],
  ["a stray character after the header", () => sign(`${b64({ alg: "HS256" })}A`, b64(valid()))],
  ["four parts", () => `${token(valid())}.x`],
];

describe("HS256 tokens verified by hs256.ts agree with jose", () => {
  const ours = hs256Verifier(SECRET, { issuer: ISSUER, audience: AUDIENCE, leewaySeconds: LEEWAY });
  const verdict = (run: () => unknown) => {
    try {
      run();
      return "valid";
    } catch (err) {
      const e = err as { code?: string; claim?: string };
      return `${e.code ?? String(err)}${e.claim ? ` ${e.claim}` : ""}`;
    }
  };

  test.each(cases)("%s", async (_name, make) => {
    const jwt = make();
    const theirs = await jwtVerify(jwt, SECRET, {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      clockTolerance: LEEWAY,
      requiredClaims: ["exp", "sub"],
    }).then(
      () => "valid",
      (err: { code?: string; claim?: string }) =>
        `${err.code ?? String(err)}${err.claim ? ` ${err.claim}` : ""}`,
    );
    // A header that does not parse never reaches hs256.ts: jose's verdict is the service's.
    const header = headerOf(jwt);
    const mine = header ? verdict(() => ours(jwt, header)) : "ERR_JWS_INVALID";
    // jose names its malformed-token errors more finely; both must refuse, the same way where
    // a claim is named.
    if (theirs === "valid" || theirs.includes(" ")) expect(mine).toBe(theirs);
    else expect(mine).not.toBe("valid");
  });

  // jose's base64url decoder skips padding; RFC 7515 has none, and a second spelling of one
  // token would be a second entry in the verified-token cache.
  test("a padded signature, which jose takes, is refused", () => {
    const jwt = `${token(valid())}=`;
    expect(verdict(() => ours(jwt, headerOf(jwt) ?? {}))).toBe(
      "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    );
  });
});
