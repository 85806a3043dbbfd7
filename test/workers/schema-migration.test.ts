import { applyD1Migrations, env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { metadataFilterCondition, parseMetadataFilters } from "../../workers/gateway/list-filters.ts";
import { presentImage } from "../../workers/gateway/presenters.ts";
import { database } from "../../workers/shared/db.ts";
import { findImage, insertImageRecord, updateImageLife } from "../../workers/shared/image-records.ts";
import { images } from "../../workers/shared/schema.ts";

// `images.meta` (text) becomes `images.meta_json` (JSON, CHECKed) through expand → backfill → switch → contract
// (docs/DESIGN.md, "Changing the schema without downtime"). Each migration is applied to a fresh D1 a prefix at a
// time, and the releases that run side by side during each rolling deploy must read what the others wrote.

type Meta = Record<string, unknown>;

/** What a release does with user metadata: the queries it sends, each as it sends them. */
interface Release {
  name: string;
  upload(d1: D1Database, id: string, meta: Meta): Promise<void>;
  patch(d1: D1Database, id: string, meta: Meta): Promise<void>;
  meta(d1: D1Database, id: string): Promise<Meta | undefined>;
  /** Ids whose metadata has `key` equal to the string `value` (`GET /v2?meta.<key>[eq]=<value>`). */
  matching(d1: D1Database, key: string, value: string): Promise<string[]>;
}

const lifeOf = (id: string) => `life-${id}`;

/**
 * A past release's queries, kept as the SQL drizzle sent for it (the upload's INSERT … SELECT from
 * insertImageRecord, findImage's SELECT of every column, the PATCH's UPDATE … RETURNING, a v2 metadata filter).
 */
function pastRelease(name: string, sql: { columns: string; insert: string; patch: string; metaColumn: string }): Release {
  const values = (meta: Meta) => (sql.insert.includes('"meta_json"') ? [JSON.stringify(meta), JSON.stringify(meta)] : [JSON.stringify(meta)]);
  return {
    name,
    async upload(d1, id, meta) {
      await d1.batch([
        d1
          .prepare(
            `INSERT INTO "images" (${sql.insert}) SELECT ?, ?, ?, ${values(meta).map(() => "?").join(", ")}, ?
             WHERE (SELECT "value" FROM "counters" WHERE "name" = 'images') < ? ON CONFLICT DO NOTHING RETURNING "id"`,
          )
          .bind(id, lifeOf(id), "2026-01-01T00:00:00.000Z", ...values(meta), "ready", 1_000_000),
        d1.prepare(`UPDATE "counters" SET "value" = "value" + changes() WHERE "name" = 'images'`),
      ]);
    },
    async patch(d1, id, meta) {
      const set = sql.patch.split(", ").map((column) => `${column} = ?`).join(", ");
      await d1
        .prepare(`update "images" set ${set} where ("images"."id" = ? and "images"."life" = ?) returning ${sql.columns}`)
        .bind(...values(meta), id, lifeOf(id))
        .run();
    },
    async meta(d1, id) {
      const row = await d1.prepare(`select ${sql.columns} from "images" where "images"."id" = ?`).bind(id).first<Record<string, string>>();
      return row ? (JSON.parse(row[sql.metaColumn]) as Meta) : undefined;
    },
    async matching(d1, key, value) {
      const column = `"images"."${sql.metaColumn}"`;
      const { results } = await d1
        .prepare(`select "id" from "images" where (json_type(${column}, ?) = ? and json_extract(${column}, ?) = ?)`)
        .bind(`$."${key}"`, "text", `$."${key}"`, value)
        .all<{ id: string }>();
      return results.map((row) => row.id);
    },
  };
}

/** The release before this change: `meta` only. */
const metaText = pastRelease("meta text", {
  columns: `"id", "life", "filename", "uploaded", "require_signed_urls", "meta", "creator", "status", "error", "format", "content_type", "width", "height", "orientation", "has_alpha", "bytes", "updated_at"`,
  insert: `"id", "life", "uploaded", "meta", "status"`,
  patch: `"meta"`,
  metaColumn: "meta",
});

/** Expand's release: writes both columns, reads `meta`. */
const dualWrite = pastRelease("dual write", {
  columns: `"id", "life", "filename", "uploaded", "require_signed_urls", "meta", "meta_json", "creator", "status", "error", "format", "content_type", "width", "height", "orientation", "has_alpha", "bytes", "updated_at"`,
  insert: `"id", "life", "uploaded", "meta", "meta_json", "status"`,
  patch: `"meta", "meta_json"`,
  metaColumn: "meta",
});

/** Switch's release: writes both columns, reads `meta_json`. */
const switchedRead = pastRelease("switched read", {
  columns: `"id", "life", "filename", "uploaded", "require_signed_urls", "meta", "meta_json", "creator", "status", "error", "format", "content_type", "width", "height", "orientation", "has_alpha", "bytes", "updated_at"`,
  insert: `"id", "life", "uploaded", "meta", "meta_json", "status"`,
  patch: `"meta", "meta_json"`,
  metaColumn: "meta_json",
});

/** The code in this tree (contract's release: `meta_json` only), through the functions the routes call. */
const current: Release = {
  name: "current",
  async upload(d1, id, meta) {
    const outcome = await insertImageRecord(database(d1), { id, life: lifeOf(id), uploaded: "2026-01-01T00:00:00.000Z", status: "ready", meta }, 1_000_000);
    expect(outcome).toHaveProperty("inserted");
  },
  async patch(d1, id, meta) {
    expect(await updateImageLife(database(d1), id, lifeOf(id), { meta })).toBeDefined();
  },
  async meta(d1, id) {
    const row = await findImage(database(d1), id);
    return row && presentImage(row, [], "https://images.example").meta;
  },
  async matching(d1, key, value) {
    const filter = metadataFilterCondition(parseMetadataFilters(new URLSearchParams([[`meta.${key}[eq]`, value]])));
    const rows = await database(d1).select({ id: images.id }).from(images).where(filter).orderBy(images.id);
    return rows.map((row) => row.id);
  },
};

/** The change's migrations by step; "before" is the schema the previous release ran on. */
type Step = "before" | "expand" | "backfill" | "contract";

/** How many migrations there are up to and including `step`'s (found by name, so renumbering them changes nothing). */
function migrationsThrough(step: Step): number {
  const tag = `images_meta_json_${step === "before" ? "expand" : step}`;
  const index = env.TEST_MIGRATIONS.findIndex((migration) => new RegExp(`^\\d+_${tag}\\.sql$`).test(migration.name));
  expect(index, `a migration named NNNN_${tag}.sql`).toBeGreaterThan(0);
  return step === "before" ? index : index + 1;
}

/** A fresh D1 with the migrations applied through `step`. */
async function freshSchemaThrough(step: Step): Promise<D1Database> {
  const d1 = env.MIGRATION_DB;
  const { results } = await d1
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`)
    .all<{ name: string }>();
  for (const { name } of results) await d1.prepare(`DROP TABLE "${name}"`).run();
  return migrateThrough(d1, step);
}

async function migrateThrough(d1: D1Database, step: Step): Promise<D1Database> {
  await applyD1Migrations(d1, env.TEST_MIGRATIONS.slice(0, migrationsThrough(step)));
  return d1;
}

/**
 * Each release uploads an image and patches its metadata; then every release reads every image's metadata as its
 * writer left it and finds each by a metadata filter.
 */
async function expectSideBySide(d1: D1Database, releases: Release[]) {
  for (const release of releases) {
    const id = `by ${release.name}`;
    await release.upload(d1, id, { writer: release.name, step: "uploaded" });
    await release.patch(d1, id, { writer: release.name, step: "patched" });
  }
  for (const reader of releases) {
    for (const writer of releases) {
      expect(await reader.meta(d1, `by ${writer.name}`), `${reader.name} reads what ${writer.name} wrote`).toEqual({ writer: writer.name, step: "patched" });
      expect(await reader.matching(d1, "writer", writer.name), `${reader.name} filters what ${writer.name} wrote`).toEqual([`by ${writer.name}`]);
    }
  }
}

describe("images.meta → images.meta_json without downtime", () => {
  it("expanded: the previous release and the dual-writing one run side by side", async () => {
    const d1 = await freshSchemaThrough("expand");
    await expectSideBySide(d1, [metaText, dualWrite]);
  });

  it("backfilled: what was written before the expand, and by the previous release beside it, reads the same from meta_json", async () => {
    const d1 = await freshSchemaThrough("before");
    await metaText.upload(d1, "before expand", { written: "before expand" });
    await migrateThrough(d1, "expand");
    await metaText.upload(d1, "during rollout", { written: "during rollout" });
    // The read switch must wait for the backfill: until then meta_json holds only its default for these rows.
    expect(await current.meta(d1, "before expand")).toEqual({});
    await migrateThrough(d1, "backfill");
    expect(await current.meta(d1, "before expand")).toEqual({ written: "before expand" });
    expect(await current.meta(d1, "during rollout")).toEqual({ written: "during rollout" });
    expect(await current.matching(d1, "written", "before expand")).toEqual(["before expand"]);
  });

  it("backfilled: the dual-writing release and the one reading meta_json run side by side", async () => {
    const d1 = await freshSchemaThrough("backfill");
    await expectSideBySide(d1, [dualWrite, switchedRead]);
  });

  it("not yet contracted: the release reading meta_json and the one writing only meta_json run side by side", async () => {
    const d1 = await freshSchemaThrough("backfill");
    await expectSideBySide(d1, [switchedRead, current]);
  });

  it("contracted: the current code keeps what it wrote before, and no release that knows `meta` can run", async () => {
    const d1 = await freshSchemaThrough("backfill");
    await current.upload(d1, "kept", { kept: true });
    await migrateThrough(d1, "contract");
    expect(await current.meta(d1, "kept")).toEqual({ kept: true });
    await expectSideBySide(d1, [current]);
    // Why the contract waits until the switched release is gone: its writes name the dropped column.
    await expect(switchedRead.upload(d1, "refused", {})).rejects.toThrow(/no column named meta\b/);
    await expect(switchedRead.patch(d1, "kept", {})).rejects.toThrow(/no such column: meta\b/);
  });

  it("expanded: meta_json refuses text that is not JSON", async () => {
    const d1 = await freshSchemaThrough("expand");
    await metaText.upload(d1, "checked", {});
    await expect(d1.prepare(`UPDATE "images" SET "meta_json" = ? WHERE "id" = ?`).bind("{not json", "checked").run()).rejects.toThrow(/CHECK constraint failed/);
  });
});
