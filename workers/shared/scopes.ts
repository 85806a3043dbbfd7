/**
 * What a scoped API token may do (our extension of the management API). The bootstrap `API_TOKEN` holds every
 * scope and is the only credential that manages tokens; which route needs which scope is decided in
 * workers/gateway/auth.ts.
 */
export const SCOPES = ["images:read", "images:write", "variants:write", "keys:write"] as const;

export type Scope = (typeof SCOPES)[number];

export const isScope = (value: unknown): value is Scope => (SCOPES as readonly unknown[]).includes(value);
