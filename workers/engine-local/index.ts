import { holdsEngineToken, serveRenderCall, type EngineProcessEnv } from "../processor/pipeline/engine-process.ts";
import { renderInPlace } from "../processor/pipeline/render.ts";

/** Render calls this process has served since it started: `GET /stats` tells whoever holds the token. */
let served = 0;

/**
 * The local render process (see workers/processor/pipeline/engine-process.ts): `npm start` runs it in a workerd
 * of its own so that renders never share a thread with delivery. It holds no bindings and is never deployed.
 */
export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/stats" && request.method === "GET") {
      if (!(await holdsEngineToken(request, env.ENGINE_TOKEN))) return new Response("missing or wrong ENGINE_TOKEN", { status: 401 });
      return Response.json({ served });
    }
    const response = await serveRenderCall(request, env.ENGINE_TOKEN, renderInPlace);
    if (response.ok) served++;
    return response;
  },
} satisfies ExportedHandler<EngineProcessEnv>;
