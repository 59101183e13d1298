// A type test, checked by `bun run typecheck`: it stops compiling when a declared response's
// body type is `unknown` (a route that answers something its declaration does not describe),
// naming the route and the status.
import type { ApiSchema } from "./api";
import type { Client } from "./index";

type UnknownResponses = {
  [P in keyof ApiSchema]: {
    [M in keyof ApiSchema[P]]: ApiSchema[P][M] extends infer E
      ? E extends { output: infer O; status: infer S extends number }
        ? unknown extends O
          ? `${M & string} ${P & string} ${S}`
          : never
        : never
      : never;
  }[keyof ApiSchema[P]];
}[keyof ApiSchema];

export const noUnknownResponse: [UnknownResponses] extends [never] ? true : UnknownResponses = true;

// And through the client, as an app sees it: the hold's 201 body and a refusal's code.
type HoldResponse = Awaited<ReturnType<Client["api"]["holds"]["$post"]>>;
type Body<S extends number> = Awaited<ReturnType<Extract<HoldResponse, { status: S }>["json"]>>;
export const holdExpiresAt: Body<201>["expires_at"] extends string ? true : false = true;
export const soldOutCode: "insufficient_stock" extends Body<409>["code"] ? true : false = true;
