ALTER TABLE `variants` ADD `extra_options_json` text DEFAULT '{}' NOT NULL;
