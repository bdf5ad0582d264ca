-- 0003_day_scoped_visitors: unique visitors are summed over days (daily_visitors goes; weekly
-- rollups come), and a day whose events changed after its fold is marked dirty by the writer
-- that stored them.
--
-- Day-scoped visitor ids. Ingest hashes the event's UTC day into the visitor id (with the daily
-- salt, website, address and user agent), so no visitor_id is ever seen on two UTC days: one
-- person on three days is three ids. Hence, over any set of whole UTC days,
--   count(DISTINCT visitor_id) over the raw events = the SUM of each day's count(DISTINCT),
-- and the same holds per page (page_daily.visitors), per dimension value
-- (dimension_daily.visitors) and for the daily totals (event_summary.unique_visitors). The
-- stats therefore add the daily rollups up, exactly, and the set of distinct visitors per day
-- that 0002 kept for that purpose (daily_visitors, one row per visitor and day) is not needed.
-- (Hours within one day are not summable: a visitor seen at 09:00 and 10:00 is one visitor of
-- the day, so hourly_summary is only ever read hour by hour.) Data written outside ingest (an
-- import, a generator) must keep the invariant for the stats to stay exact.
--
-- When a day's rollups are final (supersedes the 24-hour rule in 0002's comments). The events
-- writer (core/ingest/event_store.cpp), in the same transaction as its insert, upserts the
-- aggregation_runs row of every website and UTC day before the current one (by the database's
-- clock) that received an event, with dirty = true; a row it creates for a day never folded has
-- folded_at = '-infinity' and events = 0. A fold replaces the row with dirty = false in the
-- REPEATABLE READ transaction that reads the day's events, so a concurrent mark either is in
-- the fold's snapshot together with its event, or makes the fold's upsert fail with a
-- serialisation error (the fold then redoes the day), or lands after the fold and stays.
-- A day is final when its row is not dirty and was folded at least an hour after the day's end
-- (mp::aggregation::kSettleTime: a writer that took the day for "today" just before midnight
-- has committed by then). The stats read the rollups of final days and the raw events of every
-- other day (mp::aggregation::finalDays()); the scheduled fold re-folds every day of the last 35
-- that is not final.

DROP TABLE daily_visitors;

ALTER TABLE aggregation_runs ADD COLUMN dirty boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN aggregation_runs.dirty IS
  'Events arrived for this day after its fold (set by the events writer, cleared by a fold).';
COMMENT ON TABLE aggregation_runs IS
  'Last fold of each website and UTC day into the rollups, with the number of events folded; '
  'final when not dirty and folded an hour or more after the day''s end.';

-- Weekly rollups (weeks start on Monday, UTC): page_daily and dimension_daily summed over the
-- seven days of a week, which the day-scoped visitor ids make exact for visitors too. A range of
-- 30 days reads about 4 weeks and a few days instead of 30 days of rows per page. The fold of a
-- day replaces its week's rows in the same transaction, from the daily rows as they then are;
-- the stats read a week's rows only when all seven of its days are final, else its days' rows.
CREATE TABLE page_weekly (
  website_id uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  week       date   NOT NULL CHECK (extract(isodow FROM week) = 1),
  page       text   NOT NULL,
  views      bigint NOT NULL,
  visitors   bigint NOT NULL,
  PRIMARY KEY (website_id, week, page)
);
COMMENT ON TABLE page_weekly IS
  'page_daily summed per website, week (its Monday, UTC) and page.';

CREATE TABLE dimension_weekly (
  website_id uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  week       date   NOT NULL CHECK (extract(isodow FROM week) = 1),
  dimension  text   NOT NULL,
  value      text   NOT NULL,
  views      bigint NOT NULL,
  visitors   bigint NOT NULL,
  PRIMARY KEY (website_id, week, dimension, value)
);
COMMENT ON TABLE dimension_weekly IS
  'dimension_daily summed per website, week (its Monday, UTC), dimension and value.';
