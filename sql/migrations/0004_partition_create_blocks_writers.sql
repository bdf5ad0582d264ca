-- 0004_partition_create_blocks_writers: creating an events partition no longer makes concurrent
-- inserts of its month fail.
--
-- mp_ensure_event_partition() of 0001 attached the new month while holding only what ATTACH
-- PARTITION takes on events (SHARE UPDATE EXCLUSIVE), which lets inserts run on. An INSERT that
-- had already routed a row of that month to the default partition, and was waiting for the
-- default partition's lock, then failed once the month was attached ("new row for relation
-- events_default violates partition constraint", SQLSTATE 23514): the events writer took it
-- for bad data. Now the function takes SHARE ROW EXCLUSIVE on events just before it moves the
-- waiting rows: it waits for inserts in flight to commit, and inserts that arrive meanwhile wait
-- for the attach to commit and then route with the new partition. Readers are not blocked (that
-- mode does not conflict with their ACCESS SHARE); writers wait for the move of the month's rows
-- out of the default partition, which should hold few. Everything else is as in 0001.
--
-- The daemon calls mp_ensure_event_partitions() at start and daily for this month and three
-- ahead; `mpctl db partitions` does the same by hand.

CREATE OR REPLACE FUNCTION mp_ensure_event_partition(p_month date)
RETURNS boolean
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_month   timestamp   := date_trunc('month', p_month::timestamp);
  v_from    timestamptz := v_month AT TIME ZONE 'UTC';
  v_to      timestamptz := (v_month + interval '1 month') AT TIME ZONE 'UTC';
  v_name    text        := 'events_' || to_char(v_month, '"y"YYYY"m"MM');
  v_events  regclass    := 'events'::regclass;
  v_nsp     oid;
  v_schema  name;
  v_default regclass;
  v_moved   bigint      := 0;
BEGIN
  IF p_month IS NULL THEN
    RAISE EXCEPTION 'mp_ensure_event_partition: month must not be NULL';
  END IF;

  -- Daemons and mpctl may all call this at once; one at a time (key: ASCII "MPPARTIT").
  PERFORM pg_advisory_xact_lock(5571040980541655380);

  -- The partition goes into events' own schema, whatever the caller's search_path adds.
  SELECT n.oid, n.nspname INTO v_nsp, v_schema
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = v_events;

  IF EXISTS (SELECT 1
               FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = v_events
                AND c.relname = v_name
                AND c.relnamespace = v_nsp) THEN
    RETURN false;
  END IF;
  IF to_regclass(format('%I.%I', v_schema, v_name)) IS NOT NULL THEN
    RAISE EXCEPTION 'table %.% exists but is not a partition of events', v_schema, v_name
      USING HINT = 'Rename or drop it, then run this again.';
  END IF;

  EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING ALL)', v_schema, v_name, v_events);
  EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L)',
                 v_schema, v_name, v_name || '_bounds', v_from, v_to);

  -- No insert may hold a routing of the month's rows made before the attach (see the header).
  -- Taken before the default partition's lock, in the order inserters take them, and only now,
  -- so that writers wait for the move and the attach alone.
  EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', v_events);

  SELECT p.partdefid INTO v_default
    FROM pg_partitioned_table p
   WHERE p.partrelid = v_events AND p.partdefid <> 0;
  IF v_default IS NOT NULL THEN
    -- No row may reach the default partition between the move and the attach, nor be read from
    -- it twice.
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', v_default);
    EXECUTE format('WITH moved AS (DELETE FROM %s WHERE ts >= $1 AND ts < $2 RETURNING *) '
                   'INSERT INTO %I.%I SELECT * FROM moved', v_default, v_schema, v_name)
      USING v_from, v_to;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
  END IF;

  EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                 v_events, v_schema, v_name, v_from, v_to);
  -- The partition constraint now says the same thing.
  EXECUTE format('ALTER TABLE %I.%I DROP CONSTRAINT %I', v_schema, v_name, v_name || '_bounds');

  IF v_moved > 0 THEN
    RAISE NOTICE 'moved % rows from % into %', v_moved, v_default, v_name;
  END IF;
  RETURN true;
END
$fn$;

COMMENT ON FUNCTION mp_ensure_event_partition(date) IS
  'Creates the events partition of the month holding the date (UTC) if missing; true if created.';
