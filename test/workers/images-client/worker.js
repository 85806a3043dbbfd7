// Another Worker of the user's, as it would use the platform's Images-binding-style API through a service binding
// (`IMAGES`, bound to the processor's ImagesService entrypoint; see vitest.config.ts). It takes a JSON recipe so the
// tests can drive every part of the chain: { image, encoding?, steps: [{ transform } | { draw: { image, transform?, options? } }], output }.
const bytesOf = (base64) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
const streamOf = (base64) => new Response(bytesOf(base64)).body;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/info") return Response.json(await env.IMAGES.info(request.body));
      const recipe = await request.json();
      let chain = env.IMAGES.input(recipe.encoding === "base64" ? new Response(recipe.image).body : streamOf(recipe.image), recipe.encoding ? { encoding: recipe.encoding } : undefined);
      for (const step of recipe.steps ?? []) {
        if (step.transform) chain = chain.transform(step.transform);
        if (step.draw) {
          let overlay = streamOf(step.draw.image);
          // A transformer as the overlay, as Cloudflare's binding allows: the watermark resized first. Over RPC it is
          // awaited first: a pending RPC promise cannot travel as an argument, the transformer it resolves to can.
          if (step.draw.transform) overlay = await env.IMAGES.input(overlay).transform(step.draw.transform);
          chain = chain.draw(overlay, step.draw.options);
        }
      }
      const result = await chain.output(recipe.output);
      try {
        if (url.pathname === "/image") return new Response(await result.image(), { headers: { "content-type": await result.contentType() } });
        return await result.response();
      } finally {
        // RPC stubs are released explicitly (the garbage collector may take arbitrarily long).
        result[Symbol.dispose]?.();
        chain[Symbol.dispose]?.();
      }
    } catch (error) {
      return Response.json({ error: String(error?.message ?? error) }, { status: 400 });
    }
  },
};
