import { applyD1Migrations, env } from "cloudflare:test";

// Migrations are idempotent: applied once per test file's storage.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
