import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Codec engine: kernels and codecs run in Node against sharp as the reference decoder/resizer.
        test: {
          name: "wasm",
          include: ["test/wasm/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
        },
      },
    ],
  },
});
