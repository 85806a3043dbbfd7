// Types of signing.js for the TypeScript that imports it (the CLI's tests and test/workers/); not served.
export function signedMessage(url: URL): string;
export function signUrl(url: URL | string, key: string, expiresAt?: number): Promise<URL>;
export function parseDuration(text: string): number | undefined;
