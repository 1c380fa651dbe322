-- Rotating the master key (`coproduce keys rotate-master`): every data key is re-wrapped under a new
-- master key, batch by batch, while engagements keep running; the event log is not touched (it holds
-- text sealed under the data keys, which do not change, only the wrapping of each does).
--
-- Each data key now says which master key wraps it, by the key's public id (16 hex digits of a hash
-- of it, `application/privacy/master_keys.py`). Keys made before this migration have none (NULL): they
-- are all wrapped by the installation's first master key, and are opened by trying the keys a process has.
ALTER TABLE engagements.person_keys ADD COLUMN master_key_id text;
COMMENT ON COLUMN engagements.person_keys.master_key_id IS
    'Id of the master key that wraps this data key; NULL: made before migration 0007, by the first master key';

-- One row per rotation: where it is, so a rotation cut short (a crash, Ctrl-C) continues where it
-- stopped. Each batch re-wraps its keys and moves the cursor in one transaction.
CREATE TABLE engagements.master_key_rotations (
    rotation_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_key_id       text NOT NULL,               -- the master key every data key is re-wrapped under
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    rewrapped       bigint NOT NULL DEFAULT 0,   -- data keys re-wrapped so far
    batches         integer NOT NULL DEFAULT 0,
    after_engagement text,                       -- the cursor: the last data key done, in key order
    after_owner     text,
    CHECK ((after_engagement IS NULL) = (after_owner IS NULL))
);
CREATE UNIQUE INDEX master_key_rotations_one_running
    ON engagements.master_key_rotations ((true)) WHERE finished_at IS NULL;
COMMENT ON TABLE engagements.master_key_rotations IS 'Master key rotations: progress, so a rerun continues';

-- The writer role runs `keys rotate-master` as it runs every operator command: it may now change the
-- wrapping of a data key (never its owner or engagement), and keep the rotation's progress. The auditor
-- role reads none of it.
REVOKE ALL ON engagements.master_key_rotations FROM PUBLIC;
GRANT UPDATE (wrapped_key, master_key_id) ON engagements.person_keys TO coproduce_writer;
GRANT SELECT, INSERT, UPDATE ON engagements.master_key_rotations TO coproduce_writer;
