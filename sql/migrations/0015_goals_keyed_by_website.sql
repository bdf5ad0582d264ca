-- 0015_goals_keyed_by_website: goals, funnels and the rows made of them are keyed by website too,
-- so that every key of per-website data holds website_id (docs/scaling.md, "Distributing
-- PostgreSQL with Citus").
--
-- Citus distributes a table by one column (website_id here) and requires that column in every
-- primary key and unique constraint of the table, and, for a foreign key between two distributed
-- tables, in both column lists at the same position. goals and funnels had PRIMARY KEY (id), and
-- funnel_steps, funnel_daily and goal_daily had no website_id at all: they referred to goals (id)
-- and funnels (id). Now:
--   goals, funnels  PRIMARY KEY (website_id, id); UNIQUE (website_id, …) as before
--   funnel_steps    website_id; PRIMARY KEY (website_id, funnel_id, position);
--                   (website_id, funnel_id) → funnels ON DELETE CASCADE,
--                   (website_id, goal_id) → goals ON DELETE RESTRICT, as before
--   funnel_daily    website_id; PRIMARY KEY (website_id, funnel_id, date, step);
--                   (website_id, funnel_id) → funnels ON DELETE CASCADE
--   goal_daily      website_id; PRIMARY KEY (website_id, goal_id, date);
--                   (website_id, goal_id) → goals ON DELETE CASCADE
-- Ids are still uuidv7, made by the application and unique by themselves; the keys just carry
-- the website along. website_id of the existing rows comes from their funnel or goal. A funnel
-- step whose goal belongs to another website than its funnel (the API never made one) stops the
-- migration, since the new keys would refuse it. Filling the column rewrites funnel_daily and
-- goal_daily once (a row per funnel step, or goal, and folded day). Daemons of the release before
-- do not fill the column: between this migration and their restart (docs/operations.md,
-- "Upgrades"), adding a funnel fails, and their folds fail and are retried after the restart.
--
-- tests/integration/schema_test.cpp checks this rule over the whole schema after every migration.

-- The website of every existing row, from its parent.
ALTER TABLE funnel_steps ADD COLUMN website_id uuid;
UPDATE funnel_steps s SET website_id = f.website_id FROM funnels f WHERE f.id = s.funnel_id;
ALTER TABLE funnel_steps ALTER COLUMN website_id SET NOT NULL;

ALTER TABLE funnel_daily ADD COLUMN website_id uuid;
UPDATE funnel_daily d SET website_id = f.website_id FROM funnels f WHERE f.id = d.funnel_id;
ALTER TABLE funnel_daily ALTER COLUMN website_id SET NOT NULL;

ALTER TABLE goal_daily ADD COLUMN website_id uuid;
UPDATE goal_daily d SET website_id = g.website_id FROM goals g WHERE g.id = d.goal_id;
ALTER TABLE goal_daily ALTER COLUMN website_id SET NOT NULL;

DO $check$
DECLARE
  v_mixed bigint;
BEGIN
  SELECT count(*) INTO v_mixed
    FROM funnel_steps s JOIN goals g ON g.id = s.goal_id
   WHERE g.website_id <> s.website_id;
  IF v_mixed > 0 THEN
    RAISE EXCEPTION '% funnel steps use a goal of another website than their funnel', v_mixed
      USING HINT = 'Delete those funnels (SELECT DISTINCT s.funnel_id FROM funnel_steps s JOIN '
                   'goals g ON g.id = s.goal_id WHERE g.website_id <> s.website_id), then migrate '
                   'again.';
  END IF;
END
$check$;

-- The foreign keys on (id) first: they depend on the primary keys they reference.
ALTER TABLE funnel_steps
  DROP CONSTRAINT funnel_steps_funnel_id_fkey,
  DROP CONSTRAINT funnel_steps_goal_id_fkey;
ALTER TABLE funnel_daily DROP CONSTRAINT funnel_daily_funnel_id_fkey;
ALTER TABLE goal_daily DROP CONSTRAINT goal_daily_goal_id_fkey;

ALTER TABLE goals DROP CONSTRAINT goals_pkey, ADD PRIMARY KEY (website_id, id);
ALTER TABLE funnels DROP CONSTRAINT funnels_pkey, ADD PRIMARY KEY (website_id, id);

ALTER TABLE funnel_steps
  DROP CONSTRAINT funnel_steps_pkey,
  ADD PRIMARY KEY (website_id, funnel_id, position),
  ADD CONSTRAINT funnel_steps_funnel_fkey FOREIGN KEY (website_id, funnel_id)
    REFERENCES funnels (website_id, id) ON DELETE CASCADE,
  ADD CONSTRAINT funnel_steps_goal_fkey FOREIGN KEY (website_id, goal_id)
    REFERENCES goals (website_id, id) ON DELETE RESTRICT;
-- The RESTRICT check when a goal is deleted, and "which funnels use this goal".
DROP INDEX funnel_steps_goal_idx;
CREATE INDEX funnel_steps_goal_idx ON funnel_steps (website_id, goal_id);

ALTER TABLE funnel_daily
  DROP CONSTRAINT funnel_daily_pkey,
  ADD PRIMARY KEY (website_id, funnel_id, date, step),
  ADD CONSTRAINT funnel_daily_funnel_fkey FOREIGN KEY (website_id, funnel_id)
    REFERENCES funnels (website_id, id) ON DELETE CASCADE;

ALTER TABLE goal_daily
  DROP CONSTRAINT goal_daily_pkey,
  ADD PRIMARY KEY (website_id, goal_id, date),
  ADD CONSTRAINT goal_daily_goal_fkey FOREIGN KEY (website_id, goal_id)
    REFERENCES goals (website_id, id) ON DELETE CASCADE;

COMMENT ON TABLE funnel_steps IS
  'Steps of a funnel in order; each a goal of the funnel''s website (website_id of both).';
