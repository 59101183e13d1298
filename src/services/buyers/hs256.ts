import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { errors, type JWTPayload } from "jose";

// HS256 tokens are verified here, synchronously, rather than by jose's `jwtVerify`: jose signs
// through WebCrypto, which is asynchronous, and cost 22 µs of CPU per token in parallel and
// 68 µs one at a time on this machine, against 6 µs for node:crypto's HMAC. A join storm
// verifies every buyer's token once, so that was most of a join. The checks are jose's, and
// fail with jose's errors so that one mapping (verify.ts) answers both paths.

export type ClaimRules = {
  issuer: string | undefined;
  audience: string | undefined;
  leewaySeconds: number;
};

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decoded(segment: string): unknown {
  // A length of 4n + 1 is one stray character, which Buffer drops and jose refuses.
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) {
    throw new errors.JWSInvalid("Invalid base64url segment");
  }
  try {
    return JSON.parse(strictUtf8.decode(Buffer.from(segment, "base64url")));
  } catch {
    throw new errors.JWSInvalid("Segment is not JSON");
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The token's header, if it is a JWS whose header parses; what `alg` picks the path by. */
export function headerOf(token: string): Record<string, unknown> | undefined {
  try {
    const header = decoded(token.slice(0, token.indexOf(".")));
    return isObject(header) ? header : undefined;
  } catch {
    return undefined;
  }
}

/** A verifier of HS256 tokens under one secret: the payload, or jose's error for the token. */
export function hs256Verifier(secret: Uint8Array, rules: ClaimRules) {
  const key: KeyObject = createSecretKey(secret);
  return (token: string, header: Record<string, unknown>): JWTPayload => {
    const parts = token.split(".");
    const [head, body, signature] = parts;
    if (parts.length !== 3 || !head || !body || !signature) {
      throw new errors.JWSInvalid("Invalid Compact JWS");
    }
    // jose knows one critical extension, `b64`, whose only use is an unencoded payload, which
    // no JWT has: every `crit` is refused here, where jose would take `b64: true`.
    if ("crit" in header) throw new errors.JOSENotSupported("crit is not supported");
    // The canonical encoding compared as text: a second spelling of the same MAC is refused.
    const expected = Buffer.from(
      createHmac("sha256", key).update(`${head}.${body}`).digest("base64url"),
    );
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new errors.JWSSignatureVerificationFailed();
    }
    const payload = decoded(body);
    if (!isObject(payload)) throw new errors.JWTInvalid("JWT Claims Set must be a JSON object");
    checkClaims(payload, rules);
    return payload as JWTPayload;
  };
}

function claimFailed(message: string, payload: JWTPayload, claim: string): never {
  throw new errors.JWTClaimValidationFailed(message, payload, claim, "check_failed");
}

function numericDate(payload: JWTPayload, claim: "iat" | "nbf" | "exp"): number | undefined {
  const value = payload[claim];
  if (value !== undefined && typeof value !== "number") {
    claimFailed(`"${claim}" claim must be a number`, payload, claim);
  }
  return value;
}

/** jose's claim checks, in jose's order, for the options verify.ts gives it. */
function checkClaims(payload: JWTPayload, rules: ClaimRules): void {
  const { issuer, audience, leewaySeconds } = rules;
  const required = [
    ...(issuer === undefined ? [] : ["iss"]),
    ...(audience === undefined ? [] : ["aud"]),
    "sub",
    "exp",
  ];
  for (const claim of required) {
    if (!Object.hasOwn(payload, claim)) {
      claimFailed(`missing required "${claim}" claim`, payload, claim);
    }
  }
  if (issuer !== undefined && payload.iss !== issuer) {
    claimFailed('unexpected "iss" claim value', payload, "iss");
  }
  const aud = payload.aud;
  if (
    audience !== undefined &&
    !(typeof aud === "string" ? aud === audience : Array.isArray(aud) && aud.includes(audience))
  ) {
    claimFailed('unexpected "aud" claim value', payload, "aud");
  }
  const now = Math.floor(Date.now() / 1000);
  numericDate(payload, "iat");
  const nbf = numericDate(payload, "nbf");
  if (nbf !== undefined && nbf > now + leewaySeconds) {
    claimFailed('"nbf" claim timestamp check failed', payload, "nbf");
  }
  const exp = numericDate(payload, "exp");
  if (exp !== undefined && exp <= now - leewaySeconds) {
    throw new errors.JWTExpired(
      '"exp" claim timestamp check failed',
      payload,
      "exp",
      "check_failed",
    );
  }
}
