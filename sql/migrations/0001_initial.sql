-- 0001_initial: the MetricPulse data model: accounts, websites, events by month, summaries, salts.
--
-- `mpctl db migrate` runs every migration inside one transaction (this file must not contain
-- BEGIN/COMMIT); by hand: psql -v ON_ERROR_STOP=1 -1 -f 0001_initial.sql, then record it in
-- schema_migrations. Requires PostgreSQL 13 or newer (gen_random_uuid() is built in).
--
-- Citus readiness: every key and unique constraint of per-site data leads with website_id, so
-- events and event_summary can be distributed by website_id; users, websites and salts are small
-- and become reference tables.

-- What has been applied. The migrator creates this table itself before reading it; this
-- declaration is identical so that the file alone describes the whole schema.
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS
  'Applied migrations: version and name from the file name, SHA-256 of the file text.';

-- Accounts ---------------------------------------------------------------------------------------

CREATE TABLE users (
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text        NOT NULL CHECK (email <> ''),
  password_hash text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Set by the statements that change a row (no trigger: Citus reference tables and plain
  -- statements stay simple).
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Email addresses are unique case-insensitively, as people type them; stored as entered.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
COMMENT ON TABLE users IS 'Dashboard accounts; password_hash is bcrypt ($2b$).';

CREATE TABLE websites (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name       text        NOT NULL,
  -- Normalised by the API (lower case, no scheme, port, path or leading www.); the check makes
  -- the unique constraint case-insensitive by construction.
  domain     text        NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
  -- IANA zone in which stats days are counted (UTC unless the owner chooses otherwise).
  time_zone  text        NOT NULL DEFAULT 'UTC',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT websites_domain_key UNIQUE (domain)
);
-- "My websites, oldest first"; also serves the ON DELETE CASCADE lookup from users.
CREATE INDEX websites_user_id_created_at_idx ON websites (user_id, created_at);
COMMENT ON TABLE websites IS 'Tracked sites; a domain belongs to one website in the installation.';

-- Raw events -------------------------------------------------------------------------------------

-- Range partitioned by month on ts: retention drops whole partitions, and queries over a date
-- range touch only their months. Columns keep the order of DESIGN.md, which COPY relies on.
--
-- No foreign key to websites: foreign keys referencing from a partitioned table cost a lookup per
-- row on the bulk COPY path, and deleting a website deletes its events explicitly (in batches,
-- by the leading website_id of the primary key). No CHECK constraints either: one odd row would
-- fail the writer's whole batch; the ingest path validates instead.
CREATE TABLE events (
  website_id    uuid        NOT NULL,
  ts            timestamptz NOT NULL,
  -- Generated at ingest, so a redelivered batch is absorbed by ON CONFLICT DO NOTHING.
  id            uuid        NOT NULL DEFAULT gen_random_uuid(),
  event_type    text        NOT NULL DEFAULT 'pageview',
  page          text,
  url           text,
  hostname      text,
  referrer      text,
  referrer_host text,
  session_id    text,
  -- The first 8 bytes of the keyed daily hash (salt, website, address, user agent) as a signed
  -- 64-bit integer: half the width of hex text, and count(DISTINCT) on bigint is the cheapest
  -- there is. Collisions are negligible at per-site daily volumes (birthday bound 2^32).
  visitor_id    bigint,
  user_agent    text,
  browser       text,
  os            text,
  device        text,
  -- ISO 3166-1 alpha-2; text rather than char(2), which pads and compares with blank semantics.
  country       text,
  -- Full, truncated (/24, /48) or NULL, per privacy.ip_storage.
  ip            inet,
  props         jsonb,
  PRIMARY KEY (website_id, ts, id)
) PARTITION BY RANGE (ts);

-- Catches rows for months without a partition, so an insert never fails; it should stay empty.
-- mp_ensure_event_partition() moves its rows out when their month's partition is created.
CREATE TABLE events_default PARTITION OF events DEFAULT;

COMMENT ON TABLE events IS
  'Raw tracked events, one partition per calendar month (UTC), named events_yYYYYmMM.';
COMMENT ON COLUMN events.visitor_id IS
  'Keyed daily hash of (salt, website, address, user agent), first 8 bytes, signed.';

-- Creates the partition of the month holding p_month (events_yYYYYmMM, bounds in UTC) unless it
-- exists; returns whether it created it. Rows of that month already in events_default are moved
-- into the new partition, which PostgreSQL would otherwise refuse to create.
--
-- The partition is built standalone and attached, never created with PARTITION OF: that needs an
-- ACCESS EXCLUSIVE lock on events (stalling every writer and reader behind any long stats query),
-- while ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on events; a CHECK matching the bounds
-- spares ATTACH a scan of the new table.
CREATE FUNCTION mp_ensure_event_partition(p_month date)
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

  SELECT p.partdefid INTO v_default
    FROM pg_partitioned_table p
   WHERE p.partrelid = v_events AND p.partdefid <> 0;
  IF v_default IS NOT NULL THEN
    -- No row may reach the default partition between the move and the attach. Locking it alone
    -- (inserters lock events first, then the partition) cannot deadlock with them, since what
    -- ATTACH takes on events does not conflict with their ROW EXCLUSIVE lock.
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

-- The partitions of this month (UTC) and the next p_months_ahead months, and whether each one was
-- created now. Called by the daemon and `mpctl db partitions`.
CREATE FUNCTION mp_ensure_event_partitions(p_months_ahead integer)
RETURNS TABLE (partition_name text, created boolean)
LANGUAGE sql
AS $fn$
  SELECT 'events_' || to_char(m, '"y"YYYY"m"MM'), mp_ensure_event_partition(m::date)
    FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                         date_trunc('month', now() AT TIME ZONE 'UTC')
                           + make_interval(months => p_months_ahead),
                         interval '1 month') AS m
   ORDER BY m
$fn$;

SELECT * FROM mp_ensure_event_partitions(2);

-- Summaries --------------------------------------------------------------------------------------

-- One row per website and day (in the website's time zone), upserted by the aggregation job:
-- page_views = count(*) of pageview events, unique_sessions = count(DISTINCT session_id),
-- unique_visitors = count(DISTINCT visitor_id), events = count(*) of all events.
CREATE TABLE event_summary (
  website_id      uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  date            date        NOT NULL,
  page_views      bigint      NOT NULL DEFAULT 0,
  unique_sessions bigint      NOT NULL DEFAULT 0,
  unique_visitors bigint      NOT NULL DEFAULT 0,
  events          bigint      NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (website_id, date)
);
COMMENT ON TABLE event_summary IS 'Daily totals per website, folded from events by aggregation.';

-- Privacy ----------------------------------------------------------------------------------------

-- A random salt per UTC day for the visitor hash; the previous day's is kept so a visit spanning
-- midnight stays one visitor, older ones are deleted (and with them any way to link visitors).
CREATE TABLE salts (
  day        date        PRIMARY KEY,
  salt       bytea       NOT NULL CHECK (octet_length(salt) >= 16),
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE salts IS 'Daily visitor-hash salts; only today''s and yesterday''s are kept.';
