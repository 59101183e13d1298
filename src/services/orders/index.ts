// Orders: create.ts turns a hold into an order (the hold and its product locked, the order and
// its order.created event written together), read.ts reads one, expire.ts cancels those unpaid
// past ORDER_PAYMENT_TIMEOUT_SECONDS, admin.ts holds the operator's verbs (list, export, cancel),
// changes.ts writes every order change with the merchant event it makes, and locking.ts locks an
// order's row and writes its gate row.

export {
  type AdminOrderView,
  type CancelOrderInput,
  cancelOrder,
  exportOrders,
  listOrders,
  type OrderFilter,
} from "./admin";
export { type CreateOrderInput, createOrder, ORDERS_SCOPE } from "./create";
export { cancelUnpaidOrders } from "./expire";
export { getOrder } from "./read";
