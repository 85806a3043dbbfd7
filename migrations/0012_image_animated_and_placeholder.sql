-- Facts about the original beside its dimensions: whether it is animated (from the probe at upload), and its
-- placeholder (a base64 ThumbHash and a `#rrggbb` dominant colour, written by the processor with the eager
-- renditions). All nullable, added in place: rows stored before stay null (animated: the delivery falls back to
-- "a GIF may be animated"; placeholder: absent from the Image object until a variant backfill renders the image
-- again or it is uploaded again).
ALTER TABLE `images` ADD `animated` integer;--> statement-breakpoint
ALTER TABLE `images` ADD `thumbhash` text;--> statement-breakpoint
ALTER TABLE `images` ADD `dominant_color` text;