-- 0017_imports: history brought in from other analytics tools (mpctl import, core/importing).
--
-- imports: one row per imported file (its SHA-256, so running the same file again finds it),
-- with its state: 'staging' while an event-level file is being copied in (resumable from
-- staged_lines), 'complete' once its data is visible to the stats.
-- imported_days: each day (the website's zone) an import holds. A day belongs to one import and
-- holds no tracked events, so imported and tracked numbers never count the same visit twice;
-- `aggregate` days are Plausible-style daily aggregates (imported_daily), the others hold
-- events in the events table.
-- imported_daily: the aggregates of aggregate days, per dimension value ('' dimension: the
-- day's totals), in the sums the query engine adds up; a NULL bounces or duration_ms is a number
-- the source did not give for that dimension.
-- import_staged_events: an event-level import's rows until it completes, moved into events in
-- the transaction that marks it complete.
-- Keys lead with website_id like every per-site table.

CREATE TABLE imports (
  website_id    uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  id            uuid        NOT NULL DEFAULT gen_random_uuid(),
  source        text        NOT NULL
    CHECK (source IN ('plausible-csv', 'umami-csv', 'goatcounter-csv')),
  file_name     text        NOT NULL,
  file_sha256   text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('staging', 'complete')),
  first_day     date,
  last_day      date,
  rows_read     bigint      NOT NULL DEFAULT 0,
  rows_imported bigint      NOT NULL DEFAULT 0,
  rows_skipped  bigint      NOT NULL DEFAULT 0,
  -- Why rows were skipped: {"reason": count, …}.
  skipped       jsonb       NOT NULL DEFAULT '{}',
  staged_lines  bigint      NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  PRIMARY KEY (website_id, id),
  UNIQUE (website_id, source, file_sha256)
);
COMMENT ON TABLE imports IS 'Files imported by mpctl import, one row each.';

CREATE TABLE imported_days (
  website_id uuid    NOT NULL,
  date       date    NOT NULL,
  import_id  uuid    NOT NULL,
  aggregate  boolean NOT NULL,
  PRIMARY KEY (website_id, date),
  FOREIGN KEY (website_id, import_id) REFERENCES imports (website_id, id) ON DELETE CASCADE
);
CREATE INDEX imported_days_import ON imported_days (website_id, import_id);
COMMENT ON TABLE imported_days IS 'The days each import holds (website zone).';

CREATE TABLE imported_daily (
  website_id  uuid   NOT NULL,
  import_id   uuid   NOT NULL,
  date        date   NOT NULL,
  -- '' (the day), page, entry_page, exit_page, source, referrer, utm_*, country, browser, os,
  -- device or event_type.
  dimension   text   NOT NULL,
  value       text   NOT NULL,
  visitors    bigint NOT NULL,
  visits      bigint NOT NULL,
  pageviews   bigint NOT NULL,
  events      bigint NOT NULL,
  bounces     bigint,
  duration_ms bigint,
  FOREIGN KEY (website_id, import_id) REFERENCES imports (website_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX imported_daily_key
  ON imported_daily (website_id, dimension, date, mp_rollup_key(value));
CREATE INDEX imported_daily_import ON imported_daily (website_id, import_id);
COMMENT ON TABLE imported_daily IS
  'Daily aggregates of imported days, per dimension value; NULL: not given by the source.';

CREATE TABLE import_staged_events (
  website_id uuid   NOT NULL,
  import_id  uuid   NOT NULL,
  line       bigint NOT NULL,
  ts         timestamptz NOT NULL,
  id         uuid   NOT NULL,
  event_type text   NOT NULL,
  page       text,
  url        text,
  hostname   text,
  referrer   text,
  referrer_host text,
  session_id text,
  visitor_id bigint,
  browser    text,
  os         text,
  device     text,
  country    text,
  props      jsonb,
  source     text,
  channel    text,
  utm_source text,
  utm_medium text,
  utm_campaign text,
  utm_term   text,
  utm_content text,
  PRIMARY KEY (website_id, import_id, line),
  FOREIGN KEY (website_id, import_id) REFERENCES imports (website_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE import_staged_events IS
  'Rows of an event-level import being copied in; moved into events when it completes.';
