// Products: stock.ts reads and locks a product's row and moves its stock (inside a caller's
// transaction), cache.ts keeps this process's copy and publishes each committed change to it,
// admin.ts holds the operator's create and update, restock.ts the operator's stock moves
// (restock, correction), watch.ts the live stock stream.

export {
  type CreateProductInput,
  createProduct,
  type UpdateProductInput,
  updateProduct,
} from "./admin";
export { loadProduct, peekProduct } from "./cache";
export { correctStock, restockProduct, type StockCorrectionInput } from "./restock";
export { watchProduct } from "./watch";
