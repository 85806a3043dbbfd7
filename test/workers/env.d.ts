import type { D1Migration } from "cloudflare:test";
import type { GatewayEnv } from "../../workers/gateway/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends GatewayEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** Test images made with sharp (test/fixtures/images.ts), base64. */
      FIXTURES: Record<string, string>;
    }
  }
}
