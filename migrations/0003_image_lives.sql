ALTER TABLE `images` ADD `life` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `renditions` ADD `life` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `renditions_expiry_idx` ON `renditions` (`variant`,`created_at`);