-- Every account starts with a `public` variant, as on Cloudflare Images.
INSERT OR IGNORE INTO `variants` (`id`, `fit`, `width`, `height`, `metadata`, `never_require_signed_urls`, `updated_at`)
VALUES ('public', 'scale-down', 1366, 768, 'none', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
