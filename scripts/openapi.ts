// Prints the OpenAPI document the service serves at /openapi.json, for linters.
import { parseConfig } from "../src/config";
import { openApiDocument } from "../src/http/openapi";
import { requestSchemas } from "../src/http/schemas";

console.log(JSON.stringify(openApiDocument(requestSchemas(parseConfig({}))), null, 2));
