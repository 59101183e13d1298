import { loadConfig } from "../config";
import { migrateDatabase } from "./migrate";

const config = loadConfig();
await migrateDatabase(config.DATABASE_URL);
console.log("migrations applied");
