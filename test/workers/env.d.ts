import type { D1Migration } from "cloudflare:test";
import type { GatewayEnv } from "../../workers/gateway/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends GatewayEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** A D1 of its own for schema-migration.test.ts, migrated a prefix at a time. */
      MIGRATION_DB: D1Database;
      /** Test images made with sharp (test/fixtures/images.ts), base64. */
      FIXTURES: Record<string, string>;
      /** test/workers/images-client/worker.js: a Worker of the user's, calling ImagesService through a service binding. */
      IMAGES_CLIENT: Fetcher;
    }
  }
}
