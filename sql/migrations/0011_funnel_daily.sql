-- 0011_funnel_daily: each funnel's steps per folded day, so a funnel report over final days
-- reads a row per step and day instead of walking every visit of the range
-- (docs/query-engine.md, "Funnels").
--
-- A fold writes the rows of every funnel of the websites it folds, for the day it folds, from the
-- visits it has just stored, in its own transaction (a row for every step, zeros included, so a
-- day that has rows is complete). Days folded before a funnel existed get theirs from the
-- scheduled visits job, a batch of days per run, newest first. Until a final day has its rows,
-- the report walks that day's stored visits: the answer is the same either way.

CREATE TABLE funnel_daily (
  funnel_id  uuid     NOT NULL REFERENCES funnels (id) ON DELETE CASCADE,
  -- The day in the website's time zone.
  date       date     NOT NULL,
  step       smallint NOT NULL CHECK (step BETWEEN 1 AND 8),
  -- Distinct visitors, and visits, of the day that reached the step (in order, in one visit).
  visitors   bigint   NOT NULL,
  visits     bigint   NOT NULL,
  PRIMARY KEY (funnel_id, date, step)
);
COMMENT ON TABLE funnel_daily IS
  'Visitors and visits reaching each funnel step per folded day (website time zone).';
