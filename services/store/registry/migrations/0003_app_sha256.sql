-- The digest a running ESP32 app reports as its sketch SHA-256 (the image up to its appended hash),
-- so that "already runs this image" can be told from x-ESP32-sketch-sha256. Unknown for older rows.

ALTER TABLE images ADD COLUMN app_sha256 TEXT;
