-- 0007_attribution: where each event came from, and whether it counts against a bounce.
--
-- Filled by the events writer when it stores an event (docs/metrics.md, "Sources and
-- channels"): the UTM tags of the page URL, the source (utm_source, the referrer's known name,
-- or its host) and the channel they add up to. Events stored before this migration keep NULLs:
-- their source shows as Direct / None and their channel as NULL, since nothing of them was
-- attributed when they arrived.
--
-- interactive is false for a custom event sent with "interactive": false (scroll depth, time on
-- page), which does not stop a visit from being a bounce. Adding nullable columns, and a NOT NULL
-- one with a constant default, changes only the catalogue: no partition is rewritten.

ALTER TABLE events
  ADD COLUMN source       text,
  ADD COLUMN channel      text,
  ADD COLUMN utm_source   text,
  ADD COLUMN utm_medium   text,
  ADD COLUMN utm_campaign text,
  ADD COLUMN utm_term     text,
  ADD COLUMN utm_content  text,
  ADD COLUMN interactive  boolean NOT NULL DEFAULT true;

COMMENT ON COLUMN events.source IS
  'utm_source, else the referrer''s known source name, else its host without www.; NULL: direct.';
COMMENT ON COLUMN events.channel IS
  'Channel by the rules of docs/metrics.md (Direct, Organic Search, Referral, …).';
COMMENT ON COLUMN events.interactive IS
  'False for custom events sent with "interactive": false; they do not end a bounce.';
