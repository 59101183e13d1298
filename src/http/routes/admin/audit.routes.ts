import { defineRoute, json, problems } from "../../route";
import { AuditPage, PageQuery } from "../../schemas";
import { security, tags, unauthorized, unavailable } from "./shared";

/** The operator's audit log. */
export function adminAuditRoutes() {
  return {
    listAuditEntries: defineRoute({
      method: "get",
      path: "/api/admin/audit",
      operationId: "listAuditEntries",
      tags,
      security,
      summary: "Every admin change with who asked and what it changed, by id, keyset-paged",
      request: { query: PageQuery },
      responses: {
        200: {
          description: "A page of audit entries",
          ...json(AuditPage, {
            entries: [
              {
                id: 1,
                at: "2026-11-24T13:58:00.000Z",
                action: "product.stock_correction",
                target: "product:1",
                request_id: "b3c1f2a4-0009",
                client_ip: "127.0.0.1",
                changes: { stock_available: [100, 95] },
                note: "5 found damaged",
              },
            ],
            next_after_id: null,
          }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit or after_id",
          ...unavailable,
        }),
      },
    }),
  };
}
