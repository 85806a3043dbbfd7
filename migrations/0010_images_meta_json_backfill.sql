-- Backfill (docs/DESIGN.md, "Changing the schema without downtime"): applied once no release older than the
-- dual-writing one runs, so no write after it can leave meta_json behind meta. Only rows whose copy differs are
-- written (those from before the expand, or written by the previous release during its rolling deploy), so running
-- it again changes nothing; a row whose meta is not JSON fails the CHECK and stops the migration, naming nothing
-- lost. Past a few hundred thousand rows, run it in keyset batches instead (DESIGN says how).
UPDATE `images` SET `meta_json` = `meta` WHERE `meta_json` <> `meta`;
