CREATE TABLE `counters` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
-- Images held by the account (drafts included, as on Cloudflare Images); kept by the image insert/delete batches.
INSERT OR IGNORE INTO `counters` (`name`, `value`) SELECT 'images', COUNT(*) FROM `images` WHERE `status` != 'deleted';
