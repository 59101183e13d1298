/**
 * The same createApp served by Node through @hono/node-server, for the runtime-neutrality
 * smoke test (test/node-runtime.test.ts bundles this file for Node and starts it).
 */
import { serve } from "@hono/node-server";
import { createApp } from "../../src/app";
import { loadConfig } from "../../src/config";
import { buildDeps } from "../../src/deps";

const config = loadConfig();
const app = createApp(buildDeps(config));
serve({ fetch: app.fetch, port: config.PORT, hostname: "127.0.0.1" }, (info) => {
  console.log(JSON.stringify({ listening: info.port, runtime: `node ${process.version}` }));
});
