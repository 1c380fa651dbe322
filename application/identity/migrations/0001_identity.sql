-- Who may sign in, and how: accounts, their places in engagements, one-time sign-in links and codes,
-- sessions, passkeys and sign-in attempts. Kept apart from the event log (nothing here is a decision)
-- and from the people register (names and contact details stay there). Secrets are never stored: links,
-- codes and session ids are kept as hashes; a passkey's public key is not secret.
-- The writer role (the web app and operators' commands) reads and writes it; the auditor role sees none.

CREATE TABLE identity.accounts (
    account_id   uuid        PRIMARY KEY,
    user_handle  bytea       NOT NULL UNIQUE,      -- WebAuthn user.id: 64 random bytes, never personal
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The person an account is, in each engagement it belongs to (a person id is an engagement's own).
CREATE TABLE identity.memberships (
    engagement_id text        NOT NULL,
    person_id     text        NOT NULL,
    account_id    uuid        NOT NULL REFERENCES identity.accounts,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (engagement_id, person_id)
);
CREATE INDEX memberships_by_account ON identity.memberships (account_id);

-- One-time sign-in: a link (a 256-bit token, stored as its SHA-256) or a typed code (a public lookup
-- part and a secret part, stored salted with scrypt). Each is bound to one account, used once, and
-- expires; a code is void after a few wrong guesses.
CREATE TABLE identity.sign_in_tokens (
    token_id      text        PRIMARY KEY,          -- hex SHA-256 of a link token, or a code's lookup part
    kind          text        NOT NULL CHECK (kind IN ('link', 'code')),
    account_id    uuid        NOT NULL REFERENCES identity.accounts,
    secret_hash   bytea,                            -- a code's scrypt hash (links need none)
    salt          bytea,
    issued_by     text        NOT NULL,             -- who made it: an operator, or 'self' (asked for by email)
    issued_at     timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    wrong_guesses integer     NOT NULL DEFAULT 0
);
CREATE INDEX sign_in_tokens_by_account ON identity.sign_in_tokens (account_id);

-- Sessions live here, server-side; the browser holds only a random id, stored here as its SHA-256.
-- An anonymous session (no account) carries the CSRF token of the sign-in forms.
CREATE TABLE identity.sessions (
    session_hash    bytea       PRIMARY KEY,
    account_id      uuid        REFERENCES identity.accounts,
    authentication  text        CHECK (authentication IN ('sign_in_link', 'one_time_code', 'passkey')),
    csrf_token      text        NOT NULL,
    challenge       bytea,                          -- a WebAuthn ceremony's challenge, until it is used
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,           -- absolute expiry
    ended_at        timestamptz
);
CREATE INDEX sessions_by_account ON identity.sessions (account_id) WHERE ended_at IS NULL;

CREATE TABLE identity.passkeys (
    credential_id  bytea       PRIMARY KEY,
    account_id     uuid        NOT NULL REFERENCES identity.accounts,
    public_key     bytea       NOT NULL,
    sign_count     bigint      NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz
);
CREATE INDEX passkeys_by_account ON identity.passkeys (account_id);

-- Sign-in attempts, counted per person and per network address to rate-limit them.
CREATE TABLE identity.attempts (
    scope       text        NOT NULL,               -- 'address:<ip>' or 'account:<uuid>' or 'email:<hash>'
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_by_scope ON identity.attempts (scope, at);

REVOKE ALL ON ALL TABLES IN SCHEMA identity FROM PUBLIC;
GRANT USAGE ON SCHEMA identity TO coproduce_writer;
GRANT SELECT, INSERT, UPDATE ON identity.accounts, identity.memberships, identity.sign_in_tokens,
    identity.sessions, identity.passkeys TO coproduce_writer;
GRANT SELECT, INSERT, DELETE ON identity.attempts TO coproduce_writer;
