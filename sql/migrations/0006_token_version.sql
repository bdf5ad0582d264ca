-- 0005_token_version: a per-account token version, so a password change ends earlier tokens.
--
-- Every token carries the version of its account at issue time (the "ver" claim); the daemon
-- refuses a token whose version is no longer the account's, or whose account is gone. A password
-- change (API or `mpctl user passwd`) increments it. Tokens issued before this migration carry no
-- claim and count as version 1, the default, so upgrading logs nobody out.

ALTER TABLE users ADD COLUMN token_version bigint NOT NULL DEFAULT 1 CHECK (token_version > 0);
COMMENT ON COLUMN users.token_version IS
  'Incremented by every password change; tokens of another version are refused.';
