CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`filename` text,
	`uploaded` text NOT NULL,
	`require_signed_urls` integer DEFAULT false NOT NULL,
	`meta` text DEFAULT '{}' NOT NULL,
	`creator` text,
	`status` text NOT NULL,
	`error` text,
	`format` text,
	`content_type` text,
	`width` integer,
	`height` integer,
	`orientation` integer,
	`has_alpha` integer,
	`bytes` integer,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `images_uploaded_idx` ON `images` (`uploaded`,`id`);--> statement-breakpoint
CREATE INDEX `images_creator_idx` ON `images` (`creator`,`uploaded`);--> statement-breakpoint
CREATE TABLE `renditions` (
	`image_id` text NOT NULL,
	`fingerprint` text NOT NULL,
	`format` text NOT NULL,
	`variant` text,
	`r2_key` text NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`bytes` integer NOT NULL,
	`etag` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`image_id`, `fingerprint`, `format`)
);
--> statement-breakpoint
CREATE TABLE `signing_keys` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `variants` (
	`id` text PRIMARY KEY NOT NULL,
	`fit` text NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`metadata` text NOT NULL,
	`never_require_signed_urls` integer DEFAULT false NOT NULL,
	`updated_at` text NOT NULL
);
