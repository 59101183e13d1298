// Products: stock.ts reads and locks a product's row and moves its stock (inside a caller's
// transaction), cache.ts keeps this process's copy and publishes each committed change to it,
// admin.ts holds the operator's verbs (create, restock, correct, update), watch.ts the live
// stock stream.

export {
  type CreateProductInput,
  correctStock,
  createProduct,
  restockProduct,
  type StockCorrectionInput,
  type UpdateProductInput,
  updateProduct,
} from "./admin";
export { loadProduct, peekProduct } from "./cache";
export { watchProduct } from "./watch";
