-- 0014_shares: read-only share links of a website's stats (POST /websites/{id}/shares).
--
-- Whoever holds a link's token may read the website's stats, goals and funnels, nothing else,
-- until the owner revokes it (the row is deleted). The token is 192 random bits in base64url;
-- it is found by its own index, and the keys lead with website_id like every per-site table.

CREATE TABLE shares (
  website_id  uuid        NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  id          uuid        NOT NULL,
  token       text        NOT NULL CHECK (length(token) BETWEEN 20 AND 100),
  label       text        NOT NULL DEFAULT '' CHECK (length(label) <= 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (website_id, id)
);
CREATE INDEX shares_token_idx ON shares (token);
COMMENT ON TABLE shares IS 'Read-only share links of a website''s stats; revoking deletes the row.';
