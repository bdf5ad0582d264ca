-- 0013_page_breakdown_daily: the pages of each folded day under the dimensions people filter on
-- most (docs/query-engine.md, "What is stored"), so that top pages under one country, source,
-- channel, campaign or prop value over a month reads a few rows per page and day instead of the
-- events of every stored visit of the range.
--
-- A row holds what a page breakdown filtered on that one value gives for that day: the visits
-- with the value, under each page one of their events has (for a prop value: the events that
-- have it, under their pages). Written by the fold for the day it
-- folds, from the visits it has just stored; days folded before this migration get theirs from
-- the scheduled visits job (aggregation_runs.page_breakdowns tells which days have them). A final
-- day without them is read from its stored visits: the answer is the same either way.

CREATE TABLE page_breakdown_daily (
  website_id  uuid   NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  -- The day in the website's time zone.
  date        date   NOT NULL,
  -- country, source, channel, utm_campaign or prop:KEY, and its value ('' for none but
  -- utm_campaign, whose visits without one have no row; events without the prop have none).
  dimension   text   NOT NULL,
  value       text   NOT NULL,
  page        text   NOT NULL,
  visitors    bigint NOT NULL,
  visits      bigint NOT NULL,
  pageviews   bigint NOT NULL,
  events      bigint NOT NULL,
  bounces     bigint NOT NULL,
  duration_ms bigint NOT NULL
);
CREATE INDEX page_breakdown_daily_key
  ON page_breakdown_daily (website_id, dimension, mp_rollup_key(value), date);
COMMENT ON TABLE page_breakdown_daily IS
  'Metrics per website, day, visit dimension value and page, as a page breakdown filtered on '
  'that one value answers them.';

ALTER TABLE aggregation_runs ADD COLUMN page_breakdowns boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN aggregation_runs.page_breakdowns IS
  'Whether page_breakdown_daily holds the day''s rows (folded since 0013, or given them since).';
