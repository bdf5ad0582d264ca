-- 0009_goals: goals and funnels of a website (docs/metrics.md "Goals" and "Funnels").
--
-- A goal is a custom event name, or a page path pattern in which '*' stands for any text without
-- '/' and '**' for any text ("/blog/*", "/docs/**"), as in Plausible. page_regex is the same
-- pattern as a regular expression that PostgreSQL and RE2 read alike ("(?s)^/blog/[^/]*$"), made
-- once when the goal is added so every statement matches pages the same way.
-- A funnel is 2 to 8 goals in order; its steps are rows of funnel_steps, and a goal that a
-- funnel uses cannot be deleted before the funnel (ON DELETE RESTRICT).

CREATE TABLE goals (
  id          uuid        PRIMARY KEY,
  website_id  uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  kind        text        NOT NULL CHECK (kind IN ('event', 'page')),
  -- The event name (kind 'event') or the page pattern (kind 'page'), as given.
  target      text        NOT NULL CHECK (length(target) BETWEEN 1 AND 500),
  page_regex  text        CHECK ((kind = 'page') = (page_regex IS NOT NULL)),
  name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (website_id, kind, target)
);
COMMENT ON TABLE goals IS
  'Goals of a website: a custom event name or a page path pattern (* for any text).';

CREATE TABLE funnels (
  id          uuid        PRIMARY KEY,
  website_id  uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (website_id, name)
);
COMMENT ON TABLE funnels IS 'Funnels of a website: 2 to 8 goals reached in order within one visit.';

CREATE TABLE funnel_steps (
  funnel_id   uuid     NOT NULL REFERENCES funnels (id) ON DELETE CASCADE,
  position    smallint NOT NULL CHECK (position BETWEEN 1 AND 8),
  goal_id     uuid     NOT NULL REFERENCES goals (id) ON DELETE RESTRICT,
  PRIMARY KEY (funnel_id, position)
);
CREATE INDEX funnel_steps_goal_idx ON funnel_steps (goal_id);

-- The number of consecutive funnel steps a visit reached, in order, from its events as the visits
-- table holds them (types and pages, one element per event, in order). Step i is a kind ('event'
-- or 'page') and a value (the event name, or a goal's page_regex matched against the page of a
-- page view). Taking each step at its earliest event after the previous step's is the best order
-- there is, so one pass decides.
CREATE FUNCTION mp_funnel_reached(types text[], pages text[], kinds text[], targets text[])
RETURNS integer LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  step integer := 1;
  steps integer := coalesce(array_length(kinds, 1), 0);
BEGIN
  IF steps = 0 THEN
    RETURN 0;
  END IF;
  FOR i IN 1 .. coalesce(array_length(types, 1), 0) LOOP
    IF (kinds[step] = 'event' AND types[i] = targets[step])
       OR (kinds[step] = 'page' AND types[i] = 'pageview' AND pages[i] ~ targets[step]) THEN
      IF step = steps THEN
        RETURN steps;
      END IF;
      step := step + 1;
    END IF;
  END LOOP;
  RETURN step - 1;
END
$$;
