-- 0002_rollups: daily and hourly rollups of events that the stats endpoints read for folded days.
--
-- Filled only by the aggregation job (core/aggregation/aggregator.cpp): per UTC day and website,
-- one transaction deletes the day's rows and inserts them again from events (GROUP BY), so a
-- fold is idempotent and a re-fold picks up late events. Days are UTC days ([D 00:00Z, D+1
-- 00:00Z)); hours are UTC hours. event_summary (0001) is filled the same way, with UTC dates.
--
-- Definitions, which a direct SQL count over events must use to agree exactly:
--   * event_summary: page_views = count(*) FILTER (event_type = 'pageview'),
--     unique_sessions = count(DISTINCT session_id), unique_visitors = count(DISTINCT visitor_id),
--     events = count(*), all over every event of the day.
--   * daily_visitors: the distinct non-NULL visitor_id of every event of the day.
--   * hourly_summary: views = pageview events in the hour, visitors = count(DISTINCT visitor_id)
--     over every event of the hour (as event_summary.unique_visitors is over the day).
--   * page_daily and dimension_daily (except dimension 'event_type'): over pageview events only,
--     views = count(*), visitors = count(DISTINCT visitor_id); a NULL page or dimension value is
--     stored as '' (referrer '' = direct, country '' = unknown).
--   * dimension_daily with dimension 'event_type': over every event, value = event_type,
--     views = count(*) of that type, visitors = count(DISTINCT visitor_id) among them.
-- Only hours, pages and values with at least one counted event have a row; only events of
-- websites that exist are folded.
--
-- Why daily_visitors rather than HyperLogLog (postgresql-15-hll): distinct counts cannot be
-- summed across days, and an hll union is approximate (~1-2 % error), which the API allows only
-- when the answer says "approximate": true. The overview and timeseries answers are exact, so the
-- set of distinct visitors per website and day is kept instead: one row per visitor and day, far
-- fewer rows than events (sessions have several events), and "unique visitors from D1 to D2" is
-- count(DISTINCT visitor_id) over those rows. visitor_id is keyed with a daily salt, so the same
-- person mostly has a different id each day; the set is what makes visits spanning midnight
-- (yesterday's salt is kept) count once. Per-page and per-dimension visitors over several days
-- are not summable from page_daily/dimension_daily: exact multi-day per-page visitors need the
-- raw events (or a per-page visitor set, not kept here).
--
-- Citus readiness: every key leads with website_id (distribution column), as in 0001.

CREATE TABLE daily_visitors (
  website_id uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  date       date   NOT NULL,
  visitor_id bigint NOT NULL,
  PRIMARY KEY (website_id, date, visitor_id)
);
COMMENT ON TABLE daily_visitors IS
  'Distinct visitor_id per website and UTC day, for exact unique visitors over a date range.';

CREATE TABLE page_daily (
  website_id uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  date       date   NOT NULL,
  page       text   NOT NULL,
  views      bigint NOT NULL,
  visitors   bigint NOT NULL,
  PRIMARY KEY (website_id, date, page)
);
COMMENT ON TABLE page_daily IS
  'Pageviews and distinct visitors per website, UTC day and page (NULL page stored as '''').';

-- dimension: referrer (referrer_host), browser, os, device, country, event_type.
CREATE TABLE dimension_daily (
  website_id uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  date       date   NOT NULL,
  dimension  text   NOT NULL CHECK (dimension IN ('referrer', 'browser', 'os', 'device',
                                                  'country', 'event_type')),
  value      text   NOT NULL,
  views      bigint NOT NULL,
  visitors   bigint NOT NULL,
  PRIMARY KEY (website_id, date, dimension, value)
);
COMMENT ON TABLE dimension_daily IS
  'Pageviews (events for event_type) and distinct visitors per website, UTC day, dimension, value.';

CREATE TABLE hourly_summary (
  website_id uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  hour       timestamptz NOT NULL,
  views      bigint      NOT NULL,
  visitors   bigint      NOT NULL,
  PRIMARY KEY (website_id, hour)
);
COMMENT ON TABLE hourly_summary IS
  'Pageviews and distinct visitors (over all events) per website and UTC hour.';

-- One row per website and UTC day folded: when, and how many events the fold saw. A day is final
-- (no more events can arrive for it) once folded_at is more than 24 h after the day's end; the
-- stats layer reads rollups for final days only (mp::aggregation::foldedSpan()).
CREATE TABLE aggregation_runs (
  website_id uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  date       date        NOT NULL,
  folded_at  timestamptz NOT NULL DEFAULT now(),
  events     bigint      NOT NULL,
  PRIMARY KEY (website_id, date)
);
COMMENT ON TABLE aggregation_runs IS
  'Last fold of each website and UTC day into the rollups, with the number of events folded.';
