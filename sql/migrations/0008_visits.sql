-- 0008_visits: visits, and rollups of visit metrics per day of the website's time zone.
--
-- docs/query-engine.md has the design and its reasons; in short:
--
-- visits holds every visit of the days the aggregation job has folded (days in the website's
-- time zone: a visit never spans two, docs/metrics.md): its attributes (those of its first
-- event), its counts, and its events as parallel arrays in order (step_types, step_pages, step_ms, step_props).
-- Any question the stats can ask is answered exactly from these rows for folded days, and from
-- the same rows computed from raw events by the same SQL for the other days.
--
-- event_summary, hourly_summary and breakdown_daily are the answers to the
-- common questions, precomputed by the fold from those rows: totals per day and hour, and the
-- metrics per value of each dimension per day (what a filter on that one value answers). Visitors
-- are distinct per day (docs/metrics.md), so rows of several days add up exactly.
--
-- Days were UTC days until now; they are now days in each website's zone. Every rollup is
-- rebuilt: the rows of the old tables are deleted and every day folded so far is marked dirty,
-- so the stats read raw events until the scheduled fold (which catches up on older days a batch
-- at a time) has folded each day again.

CREATE TABLE visits (
  website_id    uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  -- The day in the website's time zone.
  date          date        NOT NULL,
  started_at    timestamptz NOT NULL,
  session_id    text        NOT NULL,
  ended_at      timestamptz NOT NULL,
  -- The visitor id of its first event; NULL when that event had none.
  visitor_id    bigint,
  pageviews     integer     NOT NULL,
  events        integer     NOT NULL,
  -- Custom events not sent with "interactive": false.
  interactive   integer     NOT NULL,
  entry_page    text,
  exit_page     text,
  hostname      text,
  referrer_host text,
  source        text,
  channel       text,
  utm_source    text,
  utm_medium    text,
  utm_campaign  text,
  utm_term      text,
  utm_content   text,
  country       text,
  browser       text,
  os            text,
  device        text,
  -- One element per event, in order: its type, its page ('' when none), its time in
  -- milliseconds after started_at, its props (NULL when none).
  step_types    text[]      NOT NULL,
  step_pages    text[]      NOT NULL,
  step_ms       integer[]   NOT NULL,
  step_props    jsonb[]     NOT NULL,
  PRIMARY KEY (website_id, date, started_at, session_id)
);
COMMENT ON TABLE visits IS
  'Visits of folded days (website time zone), with their events as parallel arrays.';

-- Daily totals: the day is now the website's; visits, bounces and their duration join the counts.
DELETE FROM event_summary;
ALTER TABLE event_summary
  ADD COLUMN visits      bigint NOT NULL DEFAULT 0,
  ADD COLUMN bounces     bigint NOT NULL DEFAULT 0,
  ADD COLUMN duration_ms bigint NOT NULL DEFAULT 0;
COMMENT ON TABLE event_summary IS
  'Totals per website and day (website time zone): page views, sessions, visitors, events, '
  'visits, bounces and the sum of visit durations in milliseconds.';

-- Hourly totals: events by their own hour, visits by the hour they started.
DELETE FROM hourly_summary;
ALTER TABLE hourly_summary
  ADD COLUMN events      bigint NOT NULL DEFAULT 0,
  ADD COLUMN visits      bigint NOT NULL DEFAULT 0,
  ADD COLUMN bounces     bigint NOT NULL DEFAULT 0,
  ADD COLUMN duration_ms bigint NOT NULL DEFAULT 0;
COMMENT ON TABLE hourly_summary IS
  'Totals per website and hour: events by their own hour, visits by the hour they started.';

DROP TABLE page_daily, dimension_daily, page_weekly, dimension_weekly;

CREATE TABLE breakdown_daily (
  website_id  uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  date        date   NOT NULL,
  -- page, entry_page, exit_page, source, channel, referrer, utm_*, country, browser, os,
  -- device, hostname, event_type, or prop:KEY.
  dimension   text   NOT NULL,
  value       text   NOT NULL,
  visitors    bigint NOT NULL,
  visits      bigint NOT NULL,
  pageviews   bigint NOT NULL,
  events      bigint NOT NULL,
  bounces     bigint NOT NULL,
  duration_ms bigint NOT NULL
);
CREATE UNIQUE INDEX breakdown_daily_key
  ON breakdown_daily (website_id, dimension, date, mp_rollup_key(value));
COMMENT ON TABLE breakdown_daily IS
  'Metrics per website, day, dimension and value ('''' for none), as a filter on that one value '
  'answers them.';

-- Every day folded so far is to be folded again: marked dirty, the stats read its raw events
-- until the scheduled fold has (the recent days at once, older ones a batch per run, found by
-- this index).
UPDATE aggregation_runs SET dirty = true;
CREATE INDEX aggregation_runs_dirty_idx ON aggregation_runs (date) WHERE dirty;
COMMENT ON TABLE aggregation_runs IS
  'Last fold of each website and day (website time zone) into visits and the rollups, with the '
  'number of events folded; final when not dirty and folded an hour or more after the day''s end.';
