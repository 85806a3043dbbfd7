import Cloudflare, { toFile } from "cloudflare";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { makeFixtures } from "../fixtures/images.ts";

const { origin, apiToken, accountId: account_id } = inject("platform");
const client = new Cloudflare({ apiToken, baseURL: `${origin}/client/v4`, maxRetries: 0 });
let gif: Buffer;

beforeAll(async () => {
  gif = (await makeFixtures()).gif;
});

describe("metadata and custom ids through the official SDK", () => {
  // The SDK sends an object as metadata[key][key] / metadata[key][] multipart fields, numbers and booleans as text.
  const metadata = { a: { b: 1 }, list: [1, "x"], flag: true, album: { name: "e2e-meta", year: 2026 } };

  it("uploads nested metadata and reads back the same JSON, from an upload and a direct upload", async () => {
    const image = await client.images.v1.create({ account_id, file: await toFile(gif, "meta.gif"), metadata });
    expect(image.meta).toEqual(metadata);
    expect((await client.images.v1.get(image.id!, { account_id })).meta).toEqual(metadata);

    const draft = await client.images.v2.directUploads.create({ account_id, metadata });
    expect((await client.images.v1.get(draft.id!, { account_id })).meta).toEqual(metadata);

    const edited = await client.images.v1.edit(image.id!, { account_id, metadata: { ...metadata, flag: false } });
    expect(edited.meta).toEqual({ ...metadata, flag: false });
  });

  it("filters the v2 list by metadata as the SDK writes the filters", async () => {
    const album = `e2e-filter-${Date.now()}`;
    const upload = async (meta: object) => client.images.v1.create({ account_id, file: await toFile(gif, "f.gif"), metadata: meta });
    const old = await upload({ album: { name: album, year: 2019 }, flag: false });
    const recent = await upload({ album: { name: album, year: 2026 }, flag: true });
    const ids = async (meta: Record<string, string>) => (await client.images.v2.list({ account_id, meta })).images!.map((image) => image.id);

    expect(await ids({ "album.name[eq]": album, "album.year[gte:number]": "2020" })).toEqual([recent.id]);
    expect(await ids({ "album.name[eq]": album, "flag[eq:boolean]": "false" })).toEqual([old.id]);
    expect((await ids({ "album.name[eq]": album, "album.year[in:number]": "2019|2026" })).sort()).toEqual([old.id, recent.id].sort());
    const bad = await client.images.v2.list({ account_id, meta: { "album.year[gt:string]": "1" } as Record<string, string> }).catch((e) => e);
    expect(bad.status).toBe(400);
    expect(bad.errors[0].message).toContain("meta.album.year[gt:string]");
  });

  it("creates, reads and deletes an image whose custom id has subpaths", async () => {
    const id = `e2e/albums/ünï cat ${Date.now()}`;
    const image = await client.images.v1.create({ account_id, id, file: await toFile(gif, "cat.gif") });
    expect(image.id).toBe(id);
    expect((await client.images.v1.get(id, { account_id })).id).toBe(id);
    await client.images.v1.delete(id, { account_id });
    const gone = await client.images.v1.get(id, { account_id }).catch((e) => e);
    expect(gone.status).toBe(404);
  });
});
