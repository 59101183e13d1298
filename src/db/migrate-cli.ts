import { loadConfig } from "../config";
import { migrateDatabase } from "./migrate";
import { runScript } from "./startup";

const config = loadConfig();
await runScript("db:migrate", config.DATABASE_URL, async () => {
  await migrateDatabase(config.DATABASE_URL);
  console.log("migrations applied");
});
