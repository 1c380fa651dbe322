-- Notices: what the engagement's events imply people should be told, and whether it reached them.
-- The catch-up subscription `notices` (application/notices/outbox.py) writes one row per person per
-- event in the same transaction as its checkpoint; the delivery loop (application/notices/delivery.py)
-- mails them and records what the mail server said. Nothing personal is kept here: person ids, kinds,
-- phase or module ids, times, and the name of an error (never an address or a message body).
CREATE TABLE engagements.notices (
    notice_id       uuid PRIMARY KEY,           -- from the event id and the person id: the Message-ID
    engagement_id   text NOT NULL,
    person_id       text NOT NULL,
    event_id        uuid NOT NULL,
    position        bigint NOT NULL,            -- the event's place in the log
    kind            text NOT NULL,              -- gate_opened, gate_waiting, check_in, ... (notices.KINDS)
    reference       text,                       -- the phase, module or milestone it is about
    occurred_at     timestamptz NOT NULL,       -- when the event happened (the workflow's clock)
    created_at      timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'digest', 'by_hand', 'stale', 'forgotten')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    last_error      text,                       -- what went wrong last, e.g. "SMTPConnectError" (no detail)
    sent_at         timestamptz,                -- when the mail server took it
    digest_id       uuid                        -- the digest it went in, for people who chose one
);
CREATE INDEX notices_to_deliver ON engagements.notices (next_attempt_at) WHERE status IN ('pending', 'digest');
CREATE INDEX notices_of_engagement ON engagements.notices (engagement_id, position);
COMMENT ON TABLE engagements.notices IS 'Who should be told what, and whether the mail server took it; no personal data';

-- How each person wants to be told: by email, in a daily digest, or not at all (their facilitator
-- gets a printable list instead). Kept in the register, beside their contact details, never in the log.
ALTER TABLE engagements.people_register
    ADD COLUMN notices text NOT NULL DEFAULT 'email' CHECK (notices IN ('email', 'digest', 'none'));

-- One-click "stop these emails" (RFC 8058): each mail carries a random token; only its hash is kept.
CREATE TABLE engagements.notice_stops (
    token_sha256  bytea PRIMARY KEY,
    engagement_id text NOT NULL,
    person_id     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON engagements.notices, engagements.notice_stops FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON engagements.notices TO coproduce_writer;
GRANT SELECT, INSERT, DELETE ON engagements.notice_stops TO coproduce_writer;
