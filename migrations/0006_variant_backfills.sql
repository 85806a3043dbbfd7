CREATE TABLE `event_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`event` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `variant_backfills` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`variant` text NOT NULL,
	`fingerprint` text NOT NULL,
	`status` text NOT NULL,
	`total` integer NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`skipped` integer DEFAULT 0 NOT NULL,
	`batches` integer DEFAULT 0 NOT NULL,
	`next_queued` integer DEFAULT false NOT NULL,
	`cursor_uploaded` text,
	`cursor_id` text,
	`last_error` text,
	`started_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`finished_at` text
);
--> statement-breakpoint
CREATE INDEX `variant_backfills_variant_idx` ON `variant_backfills` (`variant`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `variant_backfills_running_idx` ON `variant_backfills` (`variant`) WHERE "variant_backfills"."status" = 'running';