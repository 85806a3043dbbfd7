import { applyD1Migrations, env } from "cloudflare:test";

// Migrations are idempotent: applied once per test file's storage.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// The platform writes a JSON line per request, job and transition (workers/shared/log.ts). In tests they are noise,
// and a line written by background work after a test file has ended (an alarm, a waitUntil) would reach vitest's
// console channel after it closed, failing the run. Info and warning lines are dropped here; errors still print.
// ops.test.ts spies on console itself to read the lines it checks.
const quiet = () => {};
console.log = quiet;
console.warn = quiet;
console.info = quiet;
