-- Contract (docs/DESIGN.md, "Changing the schema without downtime"): applied once no release that writes `meta` runs.
ALTER TABLE `images` DROP COLUMN `meta`;
