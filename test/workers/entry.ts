// Test Worker: the gateway's and the processor's real code in one script, so the vitest-plugin runner can host
// the Durable Object, the queue consumer and the RenderService entrypoint side by side (test/workers/wrangler.toml).
// Cross-Worker wiring (script_name, service bindings) is exercised by the e2e suite against `npm start`.
import gateway from "../../workers/gateway/index.ts";
import processor from "../../workers/processor/index.ts";

export { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
export { ImagesService, RenderService } from "../../workers/processor/index.ts";

export default {
  fetch: gateway.fetch,
  queue: processor.queue,
} satisfies ExportedHandler<Env>;

type Env = Parameters<typeof gateway.fetch>[1] & Parameters<typeof processor.queue>[1];
