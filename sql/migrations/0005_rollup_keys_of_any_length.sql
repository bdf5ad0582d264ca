-- 0005_rollup_keys_of_any_length: a page or dimension value of any length can be folded.
--
-- A btree index entry holds at most 2,704 bytes, and the primary keys of the page and dimension
-- rollups held the page and the value whole. Ingest accepts a url (so a page) and a referrer (so
-- a referrer host) of up to 2,048 characters, which is up to 8 KiB of UTF-8: one such event made
-- every fold of its day fail ("index row size … exceeds btree version 4 maximum 2704"), for every
-- website folded in the same statement, and its rows could never be summarised. The keys now
-- hold a SHA-256 of the text in its place: as unique as the text itself, of fixed size, and
-- still led by (website_id, date | week), by which every read of these tables selects.
--
-- mp_rollup_key() is IMMUTABLE although convert_to() is only STABLE: converting to UTF-8 in a
-- UTF-8 database (the only encoding MetricPulse supports) is the identity, whatever the session.

CREATE FUNCTION mp_rollup_key(p_text text)
RETURNS bytea
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT sha256(convert_to(p_text, 'UTF8')) $fn$;
COMMENT ON FUNCTION mp_rollup_key(text) IS
  'SHA-256 of the text''s UTF-8 bytes: the fixed-size stand-in for a page or value in rollup keys.';

ALTER TABLE page_daily DROP CONSTRAINT page_daily_pkey;
CREATE UNIQUE INDEX page_daily_key ON page_daily (website_id, date, mp_rollup_key(page));

ALTER TABLE page_weekly DROP CONSTRAINT page_weekly_pkey;
CREATE UNIQUE INDEX page_weekly_key ON page_weekly (website_id, week, mp_rollup_key(page));

ALTER TABLE dimension_daily DROP CONSTRAINT dimension_daily_pkey;
CREATE UNIQUE INDEX dimension_daily_key
  ON dimension_daily (website_id, date, dimension, mp_rollup_key(value));

ALTER TABLE dimension_weekly DROP CONSTRAINT dimension_weekly_pkey;
CREATE UNIQUE INDEX dimension_weekly_key
  ON dimension_weekly (website_id, week, dimension, mp_rollup_key(value));
