// Buyers: who a shopper is, from the bearer token of each call.
//   verify.ts  the verifier: a token's buyer, remembered once verified; jose for JWKS keys
//   hs256.ts   HS256 tokens verified synchronously with node:crypto, by jose's rules
export {
  type BuyerId,
  type BuyerVerifier,
  createBuyerVerifier,
  MAX_SUB_CHARACTERS,
} from "./verify";
