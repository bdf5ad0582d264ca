-- 0018_events_xid_by_website: the events written since a snapshot are found per website.
--
-- The stats of a day that is not final and the refresh of its visits ask which events of one
-- website were written since the snapshot of its stored visits (core/stats/live_visits.cpp).
-- Keyed on xid alone (0010), the index gave every website's new events and the website was
-- filtered out of them afterwards: a dashboard of a small website paid for the traffic of every
-- other, and the largest one for all of it (measured with bench/query's stats-under-ingest pass).
-- Keyed on (website_id, xid), the range read is the website's own new events. Writers now add
-- to one hot page per website instead of one for all, which B-trees take in their stride.
--
-- On a large events table this builds an index over every partition and blocks writes to
-- events meanwhile: the daemons' queue holds the events in Redis until it is done.

CREATE INDEX events_website_xid_idx ON events (website_id, xid) WHERE xid IS NOT NULL;
DROP INDEX events_xid_idx;
