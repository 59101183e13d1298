import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import type { Config } from "../../config";
import { AppError, serviceUnavailable } from "../../errors";
import { headerOf, hs256Verifier } from "./hs256";

/** The JWT `sub` of a verified buyer; null for an anonymous shopper. */
export type BuyerId = string | null;

export type BuyerVerifier = {
  /** False in anonymous mode: no token is asked for and every buyer is null. */
  readonly required: boolean;
  /**
   * The buyer of an `Authorization` header, or a 401 (bad token) / 503 (key server down),
   * thrown. Synchronous for a token verified before and for HS256; a promise only where a
   * key set may have to be fetched (docs/hot-path.md, rule 1).
   */
  verify(authorization: string | undefined): BuyerId | Promise<BuyerId>;
};

type BuyerConfig = Pick<
  Config,
  "BUYER_JWT_SECRET" | "BUYER_JWKS_URL" | "BUYER_JWT_ISSUER" | "BUYER_JWT_AUDIENCE"
>;

const LEEWAY_SECONDS = 30;
/** The longest buyer id (a token's `sub`), in characters (code points). */
export const MAX_SUB_CHARACTERS = 128;
/** A verified token is trusted again for at most this long, and never past its `exp`. */
const VERIFIED_TOKEN_TTL_MS = 60_000;
const JWKS_TIMEOUT_MS = 2000;
/** A token with an unknown `kid` fetches the key set again, at most this often. */
const JWKS_REFETCH_MS = 1000;

function unauthorized(detail: string): AppError {
  return new AppError("unauthorized", detail);
}

/** jose's verdicts: a bad token is the client's 401; a key server that fails is our 503. */
function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return serviceUnavailable("The buyer key server does not answer; retry shortly.");
  }
  if (err instanceof errors.JWTExpired) return unauthorized("The buyer token has expired.");
  // jose's one plain JOSEError: the key server answered something other than 200 and JSON.
  if (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC") {
    return serviceUnavailable("The buyer key server answered with an error; retry shortly.");
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthorized("The buyer token is signed with an unknown key.");
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return unauthorized(`The buyer token's "${err.claim}" claim is not acceptable.`);
  }
  if (err instanceof errors.JOSEError) return unauthorized("The buyer token is not valid.");
  // Anything else came from fetching the key set (refused connection, DNS, TLS).
  return serviceUnavailable("The buyer key server does not answer; retry shortly.");
}

function bearerToken(authorization: string | undefined): string {
  const match = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization ?? "");
  if (!match?.[1]) {
    throw unauthorized("This route needs Authorization: Bearer <buyer token>.");
  }
  return match[1];
}

/**
 * Buyer identity from a JWT: HS256 tokens checked with BUYER_JWT_SECRET, RS256, ES256 and
 * EdDSA tokens with the keys at BUYER_JWKS_URL (fetched, cached, fetched again for an unknown
 * `kid`). `exp` is required, with 30 s leeway; `iss` and `aud` are checked when configured.
 * HS256 is verified synchronously by hs256.ts, the others by jose; a token verified once is
 * remembered (until its `exp`, at most a minute) so that a shopper's app sending the same
 * token with every call pays for it once.
 */
export function createBuyerVerifier(config: BuyerConfig): BuyerVerifier {
  const secret = config.BUYER_JWT_SECRET;
  const jwksUrl = config.BUYER_JWKS_URL;
  if (secret === undefined && jwksUrl === undefined) {
    return { required: false, verify: () => null };
  }
  const secretKey = secret === undefined ? undefined : new TextEncoder().encode(secret);
  const jwks =
    jwksUrl === undefined
      ? undefined
      : createRemoteJWKSet(new URL(jwksUrl), {
          timeoutDuration: JWKS_TIMEOUT_MS,
          cooldownDuration: JWKS_REFETCH_MS,
        });
  const algorithms = [
    ...(secretKey ? ["HS256"] : []),
    ...(jwks ? ["RS256", "ES256", "EdDSA"] : []),
  ];
  const hs256 = secretKey
    ? hs256Verifier(secretKey, {
        issuer: config.BUYER_JWT_ISSUER,
        audience: config.BUYER_JWT_AUDIENCE,
        leewaySeconds: LEEWAY_SECONDS,
      })
    : undefined;
  // jose sees an HS256 token only where no secret is set, and refuses it by `algorithms`.
  const keyFor: JWTVerifyGetKey = async (header, token) => {
    if (jwks) return jwks(header, token);
    throw unauthorized(`Buyer tokens signed with ${header.alg} are not accepted.`);
  };
  const verified = new LRUCache<string, { sub: string; until: number }>({ max: 100_000 });

  /** The buyer a verified payload names, remembered for the token. */
  const remember = (token: string, payload: JWTPayload): string => {
    const { sub, exp } = payload;
    const length = typeof sub === "string" ? [...sub].length : 0;
    if (typeof sub !== "string" || length < 1 || length > MAX_SUB_CHARACTERS) {
      throw unauthorized(`The buyer token's "sub" must be 1 to ${MAX_SUB_CHARACTERS} characters.`);
    }
    // A lone surrogate is stored as U+FFFD while the limit counts the raw string: "\ud800"
    // and "\udfff" would be two buyers to one and one to the other.
    if (!sub.isWellFormed()) {
      throw unauthorized(`The buyer token's "sub" is not well-formed Unicode.`);
    }
    const until = Math.min(
      ((exp ?? 0) + LEEWAY_SECONDS) * 1000,
      Date.now() + VERIFIED_TOKEN_TTL_MS,
    );
    verified.set(token, { sub, until });
    return sub;
  };

  const viaJose = async (token: string): Promise<string> => {
    try {
      const { payload } = await jwtVerify(token, keyFor, {
        algorithms,
        issuer: config.BUYER_JWT_ISSUER,
        audience: config.BUYER_JWT_AUDIENCE,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ["exp", "sub"],
      });
      return remember(token, payload);
    } catch (err) {
      throw asAppError(err);
    }
  };

  return {
    required: true,
    verify(authorization) {
      const token = bearerToken(authorization);
      const known = verified.get(token);
      if (known && known.until > Date.now()) return known.sub;
      // Any other token, and one whose header does not parse, gets jose's verdict.
      const header = hs256 ? headerOf(token) : undefined;
      if (hs256 && header?.alg === "HS256") {
        try {
          return remember(token, hs256(token, header));
        } catch (err) {
          // Only a verdict on the token is a 401; anything else is a bug, and a 500.
          if (err instanceof AppError || err instanceof errors.JOSEError) throw asAppError(err);
          throw err;
        }
      }
      return viaJose(token);
    },
  };
}
