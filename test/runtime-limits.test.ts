import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { sendRaw } from "./helpers/raw-http";

// What reaches the app and what Bun answers by itself (docs/api.md, "What the runtime answers
// itself"). The second half pins Bun's own behaviour: should a Bun upgrade start handing these
// requests to the app, these tests fail and that account must change with them.

/** The app on a real socket: raw requests reach Bun's own parser as a client's would. */
const { ctx: running } = useServedApp();

const request = (head: string) => `${head}\r\nHost: sale.test\r\nConnection: close\r\n\r\n`;

function parse(raw: string) {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const headers = new Map(
    headerLines.map((line) => {
      const at = line.indexOf(":");
      return [line.slice(0, at).toLowerCase(), line.slice(at + 1).trim()] as const;
    }),
  );
  return { statusLine, headers, body };
}

describe("methods the runtime knows but no route takes", () => {
  test.each(["PROPFIND /api/holds", "PATCH /api/holds", "PUT /api/products/1", "TRACE /healthz"])(
    "%s → 404 not_found problem with a request id",
    async (line) => {
      const answer = parse(await sendRaw(running.baseUrl, request(`${line} HTTP/1.1`)));
      expect(answer.statusLine).toBe("HTTP/1.1 404 Not Found");
      expect(answer.headers.get("content-type")).toBe("application/problem+json");
      expect(answer.headers.get("x-request-id")).toBeTruthy();
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(JSON.parse(answer.body)).toMatchObject({ status: 404, code: "not_found" });
    },
  );
});

describe("what Bun answers without calling the app", () => {
  test("a method Bun does not know (FOO): the connection is closed with no answer", async () => {
    expect(await sendRaw(running.baseUrl, request("FOO /api/holds HTTP/1.1"))).toBe("");
  });

  test("headers past Bun's 16 KiB: a bare 431, no body, no request id", async () => {
    const raw = await sendRaw(
      running.baseUrl,
      request(`GET /healthz HTTP/1.1\r\nX-Big: ${"a".repeat(20 * 1024)}`),
    );
    expect(raw).toBe("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n");
  });

  test("a malformed request line: a bare 400", async () => {
    const raw = await sendRaw(running.baseUrl, "NOT-HTTP\r\n\r\n");
    expect(raw).toBe("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  });
});
