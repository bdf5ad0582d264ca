-- 0010_live_visits: the visits of days that are not final yet (today above all) are kept
-- current between folds, so a question about them reads stored visits instead of sessionising
-- the day's raw events again (docs/query-engine.md, "Days that are not final").
--
-- events.xid is the id of the transaction that wrote the event (pg_current_xact_id(), as a
-- bigint): events written after a given snapshot are then found exactly, whatever their
-- timestamps, by the index below and pg_visible_in_snapshot(). The ids only grow, so writers add
-- to the index's last page. Rows stored before this migration have none (NULL, and not in the
-- index): they were committed before any snapshot kept in aggregation_runs.seen.
--
-- aggregation_runs.seen is the snapshot of the transaction that last wrote the day's visits (a
-- fold, or a refresh of the visits that events written since changed); NULL when the stored
-- visits cannot be used for the day (never folded, or the website's time zone changed since).

ALTER TABLE events ADD COLUMN xid bigint;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id()::text::bigint;
COMMENT ON COLUMN events.xid IS
  'Id of the transaction that stored the event (pg_current_xact_id()); NULL before 0010.';
CREATE INDEX events_xid_idx ON events (xid) WHERE xid IS NOT NULL;

ALTER TABLE aggregation_runs ADD COLUMN seen pg_snapshot;
COMMENT ON COLUMN aggregation_runs.seen IS
  'Snapshot of the transaction that last wrote the day''s visits; NULL when they are not usable.';

-- The stored visits of a session key on a day: those that new events may touch.
CREATE INDEX visits_session_idx ON visits (website_id, date, session_id);
