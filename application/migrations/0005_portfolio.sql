-- The facilitator's portfolio: one row per engagement, kept by the catch-up subscription `portfolio`
-- (application/portfolio.py) in the same transaction as its checkpoint. Nothing personal: ids, the
-- organisation's name, phase ids and titles, sentences the rules generate, dates. It can always be
-- rebuilt from the log: delete the rows and the subscription's checkpoint, and it catches up again.
CREATE TABLE engagements.portfolio (
    engagement_id       text PRIMARY KEY,
    organisation        text NOT NULL,
    title               text NOT NULL,
    status              text NOT NULL,
    current_phase       text,
    phase_title         text,
    facilitators        text[] NOT NULL,        -- person ids of the constituency `facilitator`
    waiting_for         jsonb NOT NULL,         -- sentences: what the current phase waits for
    held                text[] NOT NULL,        -- running phases whose gate is held or rejected
    escalated           text[] NOT NULL,        -- running phases whose gate was escalated
    paused_since        timestamptz,
    due                 jsonb NOT NULL,         -- [{kind, reference, due_at}] as falls_due says
    next_due_at         timestamptz,
    check_ins           jsonb NOT NULL,         -- {person id: latest check-in or null}, people taking part
    check_in_every_days integer NOT NULL,
    attention           integer NOT NULL,       -- held x3 + escalated x2 + paused, as of the last event
    last_activity       timestamptz NOT NULL,
    position            bigint NOT NULL         -- the last event folded into the row
);
CREATE INDEX portfolio_by_facilitator ON engagements.portfolio USING gin (facilitators);
COMMENT ON TABLE engagements.portfolio IS 'One row per engagement for the facilitator''s page; rebuilt from the log';

REVOKE ALL ON engagements.portfolio FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON engagements.portfolio TO coproduce_writer;
