import { describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config";
import { quickHoldInput, requestSchemas } from "../src/http/schemas";

const config = parseConfig({ DATABASE_URL: "mysql://root@127.0.0.1:3306/unused" });
const schema = requestSchemas(config).CreateHoldInput;
const quick = quickHoldInput(config);

/** What the schema makes of a body: its output as JSON text (key order included), or null. */
function bySchema(value: unknown): string | null {
  const result = schema.safeParse(value);
  return result.success ? JSON.stringify(result.data) : null;
}

function byQuickCheck(value: unknown): string | null {
  const output = quick(value);
  return output === undefined ? null : JSON.stringify(output);
}

const MAX = config.MAX_HOLD_QTY;
const numbers = [
  0,
  -0,
  1,
  2,
  -1,
  1.5,
  MAX,
  MAX + 1,
  MAX - 0.5,
  2 ** 31,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  2 ** 60,
  1e300,
  -1e300,
  Number.EPSILON,
];
const others = [null, true, false, "1", "", " 5", [], [1], {}, { n: 1 }];
const values = [...numbers, ...others];

describe("the hold body's quick check gives the schema's answers", () => {
  test("for every pair of product ids and quantities, numbers or not", () => {
    let accepted = 0;
    for (const productId of values) {
      for (const qty of values) {
        const body = JSON.parse(JSON.stringify({ product_id: productId, qty }));
        expect([productId, qty, byQuickCheck(body)]).toEqual([productId, qty, bySchema(body)]);
        if (bySchema(body) !== null) accepted++;
      }
    }
    // The corpus has valid bodies too, not only refusals.
    expect(accepted).toBeGreaterThan(10);
  });

  test("for bodies of other shapes: keys missing, extra, reordered, or not an object at all", () => {
    const bodies = [
      { product_id: 1 },
      { qty: 1 },
      { product_id: 1, qty: 1, extra: 1 },
      { product_id: 1, qty: 1, pad: undefined },
      { qty: 3, product_id: 7 },
      { product_id: 1, quantity: 1 },
      JSON.parse('{"__proto__": {"qty": 1}, "product_id": 1}'),
      JSON.parse('{"product_id": 1, "qty": 1, "__proto__": null}'),
      [1, 1],
      "product_id=1&qty=1",
      42,
      null,
    ];
    for (const body of bodies) {
      expect([body, byQuickCheck(body)]).toEqual([body, bySchema(body)]);
    }
  });

  test("a body it is unsure of is left to the schema, never accepted on its own", () => {
    // Not something JSON.parse makes: a key inherited rather than the body's own.
    const inherited = Object.assign(Object.create({ qty: 1 }), { product_id: 1 });
    expect(quick(inherited)).toBeUndefined();
    expect(bySchema(inherited)).toBe('{"product_id":1,"qty":1}');
  });

  test("its output is a new object in the schema's key order, whatever order the client wrote", () => {
    const body = JSON.parse('{"qty": 2, "product_id": 9}');
    const output = quick(body);
    expect(output).not.toBe(body);
    expect(JSON.stringify(output)).toBe('{"product_id":9,"qty":2}');
    expect(JSON.stringify(output)).toBe(bySchema(body) ?? "");
  });
});
