import { defineConfig } from "drizzle-kit";

// drizzle-kit writes numbered SQL into migrations/, which `wrangler d1 migrations apply` runs.
export default defineConfig({
  dialect: "sqlite",
  schema: "./workers/shared/schema.ts",
  out: "./migrations",
});
