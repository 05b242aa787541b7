-- What a station's stock update client says of it on every poll of /ota, kept like a check-in's fields,
-- and the period between its signs of life, learned from the gaps (stock sketches poll at their own pace).

ALTER TABLE stations ADD COLUMN sketch_size INTEGER;
ALTER TABLE stations ADD COLUMN sketch_md5 TEXT;
ALTER TABLE stations ADD COLUMN sketch_sha256 TEXT;
ALTER TABLE stations ADD COLUMN chip_size INTEGER;
ALTER TABLE stations ADD COLUMN sdk_version TEXT;
ALTER TABLE stations ADD COLUMN ota_client TEXT;
ALTER TABLE stations ADD COLUMN seen_period_s REAL;
