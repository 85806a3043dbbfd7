CREATE INDEX `images_life_idx` ON `images` (`life`);
