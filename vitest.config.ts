import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { makeFixtures } from "./test/fixtures/images.ts";

export default defineConfig({
  test: {
    projects: [
      {
        // Both Workers' code inside workerd, against real local D1, R2, Queues and Durable Objects.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./test/workers/wrangler.toml" },
            miniflare: {
              // A Worker of the user's that calls the Images-binding-style API through a real service binding.
              workers: [
                {
                  name: "images-client",
                  modules: true,
                  scriptPath: "./test/workers/images-client/worker.js",
                  compatibilityDate: "2026-11-01",
                  // The Worker under test runs as the plugin's runner, named after this project.
                  serviceBindings: { IMAGES: { name: "vitest-plugin-runner-workers", entrypoint: "ImagesService" } },
                },
              ],
              serviceBindings: { IMAGES_CLIENT: "images-client" },
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
                FIXTURES: Object.fromEntries(Object.entries(await makeFixtures()).map(([k, v]) => [k, v.toString("base64")])),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          setupFiles: ["./test/workers/setup.ts"],
          // An HTTP server on 127.0.0.1 playing upload-from-URL sources (good, redirecting, hanging, endless).
          globalSetup: ["./test/fixtures/source-server.ts"],
          testTimeout: 60_000,
        },
      },
      {
        // Codec engine: kernels and codecs run in Node against sharp as the reference decoder/resizer.
        test: {
          name: "wasm",
          include: ["test/wasm/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
        },
      },
      {
        // The load harness's own client (bench/load/), against throwaway servers on 127.0.0.1.
        test: {
          name: "bench",
          include: ["test/bench/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // The platform as `npm start` runs it, driven over HTTP with the official `cloudflare` SDK.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/e2e/platform.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
