-- 0016_email_reports: who wants the email reports, and which were sent (mpctl report send).
--
-- users.report_frequency is the owner's choice (PATCH /auth/me, mpctl user set --report).
-- report_deliveries holds one row per website and period a report went out for: the sender
-- inserts it in a transaction that it commits only once the SMTP server took the message, so a
-- repeated or concurrent run sends nothing twice (the second insert waits, then finds the row).
-- Keys lead with website_id like every per-site table.

ALTER TABLE users
  ADD COLUMN report_frequency text NOT NULL DEFAULT 'off'
    CHECK (report_frequency IN ('off', 'daily', 'weekly', 'monthly'));
COMMENT ON COLUMN users.report_frequency IS
  'Email reports of the account''s websites: off, daily, weekly or monthly.';

CREATE TABLE report_deliveries (
  website_id   uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  period       text        NOT NULL CHECK (period IN ('day', 'week', 'month')),
  period_start date        NOT NULL,
  user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  recipient    text        NOT NULL,
  sent_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (website_id, period, period_start, user_id)
);
COMMENT ON TABLE report_deliveries IS
  'Email reports sent: one row per website, period and recipient, written with the sending.';
