-- Calendar feeds: a private address per account that calendar apps (Outlook, Google Calendar) fetch
-- without cookies, so it is the address itself that proves who may read it. Only the SHA-256 of its
-- random part (256 bits) is kept: the address is shown once, when made, and never again. Making a new
-- one revokes the old (at most one live address per account).
CREATE TABLE identity.calendar_feeds (
    token_hash      bytea       PRIMARY KEY,        -- SHA-256 of the address's secret part
    account_id      uuid        NOT NULL REFERENCES identity.accounts,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_fetched_at timestamptz,                    -- when a calendar app last read it
    revoked_at      timestamptz
);
CREATE UNIQUE INDEX calendar_feeds_live ON identity.calendar_feeds (account_id) WHERE revoked_at IS NULL;

REVOKE ALL ON identity.calendar_feeds FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON identity.calendar_feeds TO coproduce_writer;
