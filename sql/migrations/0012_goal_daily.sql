-- 0012_goal_daily: each goal's conversions per folded day, so the goals report over final days
-- reads a row per goal and day instead of matching every event of the range
-- (docs/query-engine.md, "Goals and funnels").
--
-- Written like funnel_daily (0011): by the fold for every goal of the websites it folds, from the
-- visits it has just stored, in its own transaction, a row per goal and day even when nothing
-- converted; for days folded before a goal existed, by the scheduled visits job. A final day
-- without a goal's row is read from its stored visits: the answer is the same either way.

CREATE TABLE goal_daily (
  goal_id    uuid   NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
  -- The day in the website's time zone.
  date       date   NOT NULL,
  -- Distinct visitors of the day with an event that reached the goal (a custom event of its
  -- name, or a page view of a page its pattern matches), and how many such events there were.
  visitors   bigint NOT NULL,
  events     bigint NOT NULL,
  PRIMARY KEY (goal_id, date)
);
COMMENT ON TABLE goal_daily IS
  'Visitors and events reaching each goal per folded day (website time zone).';
