-- Expand (docs/DESIGN.md, "Changing the schema without downtime"): the JSON column beside `meta`. drizzle-kit
-- writes a CHECK as a rebuild of the whole table (copied, then swapped in), which holds D1's only writer for as long
-- as the copy takes; SQLite can add the column in place with its CHECK, and checks it against the existing rows
-- (each gets the default, '{}', which is valid).
ALTER TABLE `images` ADD `meta_json` text DEFAULT '{}' NOT NULL CONSTRAINT `images_meta_json_valid` CHECK(json_valid(`meta_json`));
