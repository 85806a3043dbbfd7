import type { OutputFormat, Transform } from "./transform.ts";

/** Asks the processor to render one output on demand (RPC over the RENDERER service binding). */
export interface RenderRequest {
  imageId: string;
  transform: Transform;
  format: OutputFormat;
  fingerprint: string;
  /** The named variant asked for, or null for flexible options. */
  variant: string | null;
}

/** An on-demand render's result; stored in R2 and D1 by the processor before it answers. Errors travel as data. */
export type RenderResponse =
  | { ok: true; bytes: Uint8Array; contentType: string; httpEtag: string; width: number; height: number }
  | { ok: false; status: number; code: number; message: string };
