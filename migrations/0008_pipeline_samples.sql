CREATE TABLE `pipeline_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`at` text NOT NULL,
	`ms` integer,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `pipeline_samples_kind_at_idx` ON `pipeline_samples` (`kind`,`at`);