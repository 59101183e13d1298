/** Every error code the API can answer with, and its HTTP status (../shared/API.md). */
export const codeToStatus = {
  malformed_json: 400,
  unauthorized: 401,
  invalid_signature: 401,
  not_found: 404,
  product_not_found: 404,
  hold_not_found: 404,
  order_not_found: 404,
  event_not_found: 404,
  conflict_not_found: 404,
  ticket_not_found: 404,
  insufficient_stock: 409,
  hold_already_used: 409,
  idempotency_key_in_progress: 409,
  buyer_limit_exceeded: 409,
  sale_not_started: 409,
  sale_ended: 409,
  not_admitted: 409,
  no_waiting_room: 409,
  conflict_already_resolved: 409,
  order_already_paid: 409,
  stock_in_use: 409,
  hold_expired: 410,
  hold_released: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  idempotency_key_reused: 422,
  too_many_requests: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof codeToStatus;

const titles: Record<ErrorCode, string> = {
  malformed_json: "Malformed JSON",
  unauthorized: "Unauthorized",
  invalid_signature: "Invalid signature",
  not_found: "Not found",
  product_not_found: "Product not found",
  hold_not_found: "Hold not found",
  order_not_found: "Order not found",
  event_not_found: "Event not found",
  conflict_not_found: "Conflict not found",
  ticket_not_found: "Ticket not found",
  insufficient_stock: "Insufficient stock",
  hold_already_used: "Hold already used",
  idempotency_key_in_progress: "Idempotency key in progress",
  buyer_limit_exceeded: "Buyer limit exceeded",
  sale_not_started: "Sale not started",
  sale_ended: "Sale ended",
  not_admitted: "Not admitted",
  no_waiting_room: "No waiting room",
  conflict_already_resolved: "Conflict already resolved",
  order_already_paid: "Order already paid",
  stock_in_use: "Stock in use",
  hold_expired: "Hold expired",
  hold_released: "Hold released",
  payload_too_large: "Payload too large",
  unsupported_media_type: "Unsupported media type",
  validation_failed: "Validation failed",
  idempotency_key_reused: "Idempotency key reused",
  too_many_requests: "Too many requests",
  internal_error: "Internal server error",
  service_unavailable: "Service unavailable",
};

export type FieldError = { path: string; message: string };

/** Extra members a problem document may carry, beside the RFC 9457 ones. */
export type ProblemExtras = {
  available?: number;
  order_id?: number;
  limit?: number;
  used?: number;
  /** Units in active holds, on `stock_in_use`. */
  reserved?: number;
  starts_at?: string;
  ended_at?: string;
  /** The buyer's position in a waiting room's line, on `not_admitted` (null: none yet). */
  position?: number | null;
  errors?: FieldError[];
  /** The payment conflict as it stands, on `conflict_already_resolved`. */
  conflict?: Record<string, unknown>;
};

export class AppError extends Error {
  readonly status: (typeof codeToStatus)[ErrorCode];
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extras: ProblemExtras = {},
    readonly retryAfterSeconds?: number,
  ) {
    super(detail);
    this.name = "AppError";
    this.status = codeToStatus[code];
    this.title = titles[code];
  }

  toProblem() {
    return {
      type: "about:blank",
      title: this.title,
      status: this.status,
      code: this.code,
      detail: this.detail,
      ...this.extras,
    };
  }
}

export const notFound = {
  product: (id: number) => new AppError("product_not_found", `Product ${id} does not exist.`),
  hold: (id: number) => new AppError("hold_not_found", `Hold ${id} does not exist.`),
  order: (id: number) => new AppError("order_not_found", `Order ${id} does not exist.`),
};

export function insufficientStock(available: number): AppError {
  const units = available === 1 ? "unit is" : "units are";
  return new AppError("insufficient_stock", `Only ${available} ${units} available.`, { available });
}

export function buyerLimitExceeded(limit: number, used: number): AppError {
  return new AppError(
    "buyer_limit_exceeded",
    `This product allows ${limit} per buyer and this buyer already has ${used}.`,
    { limit, used },
  );
}

export function serviceUnavailable(detail: string): AppError {
  return new AppError("service_unavailable", detail, {}, 1);
}

/** A product's hold queue in this process is full: nothing was done, retry in a second. */
export function tooManyRequests(limit: number): AppError {
  return new AppError(
    "too_many_requests",
    `${limit} hold requests for this product are already waiting in this process; retry shortly.`,
    {},
    1,
  );
}

/** The client's deadline passed before its work could commit; the work was rolled back. */
export function gaveUp(): AppError {
  return serviceUnavailable("The request did not finish in time; nothing was changed.");
}
