-- The people register: who the opaque person ids of each engagement are, and the keys their personal
-- text is sealed under. Unlike the event log it is mutable, so a person can be forgotten: their name
-- and contact details are blanked and their data key deleted, which leaves their sealed text in the
-- log unreadable for good while the log itself, which holds only ciphertext, still verifies.
-- The tables are in the schema engagements, but unlike its views the auditor role may not read them.
-- Data keys are stored wrapped (AES-GCM) by a master key that never enters the database.
CREATE TABLE engagements.people_register (
    engagement_id    text NOT NULL,
    person_id        text NOT NULL,
    display_name     text,
    contact          text,
    constituency     text,
    registered_at    timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    forgotten_number integer,                  -- "forgotten person #n" within the engagement
    forgotten_at     timestamptz,
    PRIMARY KEY (engagement_id, person_id),
    UNIQUE (engagement_id, forgotten_number),
    CHECK ((forgotten_number IS NULL) = (forgotten_at IS NULL)),
    CHECK (forgotten_at IS NULL OR (display_name IS NULL AND contact IS NULL))
);
COMMENT ON TABLE engagements.people_register IS 'Who each person id is; blanked when a person is forgotten';

CREATE TABLE engagements.person_keys (
    engagement_id text NOT NULL,
    owner         text NOT NULL,              -- a person id, or '-' for the engagement's own key
    wrapped_key   bytea NOT NULL,             -- nonce || AES-GCM(master key, data key)
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (engagement_id, owner)
);
COMMENT ON TABLE engagements.person_keys IS 'Per-person data keys, wrapped by the master key; deleted to forget';

-- The writer role runs workers and operator commands: it registers people, creates and reads keys,
-- and forgets. The auditor role reads none of it: auditors see sealed text and "forgotten person #n".
REVOKE ALL ON engagements.people_register, engagements.person_keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON engagements.people_register TO coproduce_writer;
GRANT SELECT, INSERT, DELETE ON engagements.person_keys TO coproduce_writer;
