-- Appends serialise on a row lock instead of an advisory lock.
--
-- 0001 serialised appends on pg_advisory_xact_lock(7165069168967185763). Advisory locks are not
-- privileges: pg_advisory_lock is executable by every role, so any login (the read-only auditor too)
-- could take that key with pg_advisory_lock and hold it, and every append (every engagement's
-- updates) would wait for as long as its session lived.
--
-- Now the lock is the one row of eventlog.append_lock, locked FOR UPDATE by eventlog.append() and
-- eventlog.append_one() (SECURITY DEFINER, so as the owner) and held until the append commits. Locking
-- a row needs the UPDATE privilege on its table, which no role but the owner has: the writer locks it
-- only through the append functions, and the auditor not at all. What 0001 guaranteed still holds:
-- appends are serialised, each reads the last position and chain hash in a snapshot taken after the
-- lock, positions are gapless and commit order is position order. The row is never updated, only
-- locked: no new row version, no index change, and one small WAL record per append.
--
-- The function bodies are 0001's, but for the lock (step 1 of append, the first statement of
-- append_one); CREATE OR REPLACE keeps their owner and grants.

CREATE TABLE eventlog.append_lock (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row)
);
COMMENT ON TABLE eventlog.append_lock IS
    'One row, locked FOR UPDATE by every append until it commits: what serialises appends (no role but the owner may lock it)';
INSERT INTO eventlog.append_lock DEFAULT VALUES;

-- The row must stay: without it, appends would not be serialised (and they refuse to run).
CREATE TRIGGER append_lock_kept BEFORE UPDATE OR DELETE OR TRUNCATE ON eventlog.append_lock
    FOR EACH STATEMENT EXECUTE FUNCTION eventlog.refuse_change();
ALTER TABLE eventlog.append_lock ENABLE ALWAYS TRIGGER append_lock_kept;
REVOKE ALL ON eventlog.append_lock FROM PUBLIC;

-- Append one or many events to one stream: 0001's function, taking the append lock row.
CREATE OR REPLACE FUNCTION eventlog.append(p_stream_id text, p_expected_version bigint, p_event_ids uuid[], p_entries bytea[])
RETURNS TABLE (out_position bigint, out_stream_version bigint, out_duplicate boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_position  bigint;
    v_chain     bytea;
    v_version   bigint;
    v_count     integer := coalesce(cardinality(p_entries), 0);
    v_stored    integer;
    v_entry     bytea;
    v_leaf      bytea;
    v_leaves    bytea[] := '{}';
    v_chains    bytea[] := '{}';
BEGIN
    IF v_count = 0 OR coalesce(cardinality(p_event_ids), 0) <> v_count THEN
        RAISE EXCEPTION 'append needs at least one event, and one id per event' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_stream_id IS NULL OR p_stream_id = '' THEN
        RAISE EXCEPTION 'append needs a stream id' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- A snapshot taken before the lock would miss the previous append: READ COMMITTED takes a new
    -- one per statement, the stricter levels keep the transaction's first.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'eventlog.append must run at READ COMMITTED isolation, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;

    -- 1. The one lock that serialises every append until commit: the append lock row.
    PERFORM 1 FROM eventlog.append_lock FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'eventlog.append_lock has lost its row; appends cannot be serialised without it'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- 2. The log's last position and chain hash, ids already stored (checked under the
    --    lock, so concurrent retries see each other) and the stream's version, in one statement.
    SELECT coalesce(last.position, 0), coalesce(last.chain_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
           (SELECT count(*) FROM eventlog.events ev WHERE ev.event_id = ANY (p_event_ids)),
           (SELECT coalesce(max(ev.stream_version), 0) FROM eventlog.events ev WHERE ev.stream_id = p_stream_id)
    INTO v_position, v_chain, v_stored, v_version
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT ev.position, ev.chain_hash FROM eventlog.events ev ORDER BY ev.position DESC LIMIT 1) AS last ON true;

    IF v_stored > 0 THEN
        IF v_stored <> v_count THEN
            RAISE EXCEPTION 'stream %: % of the % events in this batch are stored already; retry the whole batch or none of it',
                p_stream_id, v_stored, v_count USING ERRCODE = 'CP002';
        END IF;
        -- A retry may carry a fresh occurred_at or metadata; what must match is stream, type and payload.
        IF EXISTS (
            SELECT 1
            FROM unnest(p_entries) AS t(e)
            CROSS JOIN LATERAL (SELECT convert_from(t.e, 'UTF8')::jsonb AS d OFFSET 0) AS j  -- OFFSET 0: parse once, not per use
            JOIN eventlog.events ev ON ev.event_id = (j.d ->> 'event_id')::uuid
            WHERE ev.stream_id <> p_stream_id OR ev.event_type <> j.d ->> 'type' OR ev.payload <> j.d -> 'payload'
        ) THEN
            RAISE EXCEPTION 'stream %: an event id in this batch is stored already for another stream, type or payload; event ids must not be reused',
                p_stream_id USING ERRCODE = 'CP002';
        END IF;
        RETURN QUERY
            SELECT ev.position, ev.stream_version, true
            FROM eventlog.events ev
            WHERE ev.event_id = ANY (p_event_ids)
            ORDER BY ev.position;
        RETURN;
    END IF;

    IF p_expected_version IS NOT NULL AND p_expected_version <> v_version THEN
        PERFORM eventlog.refuse_version(p_stream_id, p_expected_version, v_version);
    END IF;

    -- The hash chain: sequential by nature, and cheap (expressions, no statements).
    FOREACH v_entry IN ARRAY p_entries LOOP
        v_leaf := sha256('\x00'::bytea || v_entry);
        v_position := v_position + 1;
        v_chain := sha256('\x02'::bytea || int8send(v_position) || v_chain || v_leaf);
        v_leaves := v_leaves || v_leaf;
        v_chains := v_chains || v_chain;
    END LOOP;

    -- 3. The rows: every column but the bytes and hashes is read from the bytes themselves.
    RETURN QUERY
    INSERT INTO eventlog.events AS ev (
        position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
        actor, causation_id, correlation_id, metadata, payload, entry, leaf_hash, chain_hash)
    SELECT v_position - v_count + t.o,
           CASE WHEN (j.d ->> 'event_id')::uuid = p_event_ids[t.o] THEN p_event_ids[t.o]
                ELSE eventlog.refuse(format('event %s: its id differs from the id inside its bytes', t.o))::uuid END,
           CASE WHEN j.d ->> 'stream_id' = p_stream_id THEN p_stream_id
                ELSE eventlog.refuse(format('event %s: every event in a batch must name stream %s', t.o, p_stream_id)) END,
           v_version + t.o,
           j.d ->> 'type',
           (j.d ->> 'schema_version')::integer,
           (j.d ->> 'occurred_at')::timestamptz,
           j.d -> 'metadata' ->> 'actor',
           j.d -> 'metadata' ->> 'causation_id',
           j.d -> 'metadata' ->> 'correlation_id',
           coalesce(j.d -> 'metadata', '{}'::jsonb),
           j.d -> 'payload',
           t.e, t.l, t.c
    FROM unnest(p_entries, v_leaves, v_chains) WITH ORDINALITY AS t(e, l, c, o)
    CROSS JOIN LATERAL (SELECT convert_from(t.e, 'UTF8')::jsonb AS d OFFSET 0) AS j  -- OFFSET 0: parse once, not per use
    RETURNING ev.position, ev.stream_version, false;
END
$$;

-- Append ONE event, the common case made cheap: 0001's function, taking the append lock row first
-- (and refusing to go on if the row is missing).
CREATE OR REPLACE FUNCTION eventlog.append_one(p_stream_id text, p_expected_version bigint, p_event_id uuid, p_entry bytea)
RETURNS TABLE (out_position bigint, out_stream_version bigint, out_duplicate boolean)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE count(*) WHEN 1 THEN true
       ELSE eventlog.refuse('eventlog.append_lock has lost its row; appends cannot be serialised without it')::boolean END
FROM (SELECT 1 FROM eventlog.append_lock FOR UPDATE) AS held;
WITH last AS (
    SELECT ev.position, ev.chain_hash FROM eventlog.events ev ORDER BY ev.position DESC LIMIT 1
), h AS MATERIALIZED (  -- MATERIALIZED: parse the entry once, not once per use
    SELECT coalesce((SELECT position FROM last), 0) + 1 AS position,
           coalesce((SELECT chain_hash FROM last), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) AS prev,
           (SELECT coalesce(max(ev.stream_version), 0) FROM eventlog.events ev WHERE ev.stream_id = p_stream_id) AS version,
           convert_from(p_entry, 'UTF8')::jsonb AS d,
           sha256('\x00'::bytea || p_entry) AS leaf
)
INSERT INTO eventlog.events AS ev (
    position, event_id, stream_id, stream_version, event_type, schema_version, occurred_at,
    actor, causation_id, correlation_id, metadata, payload, entry, leaf_hash, chain_hash)
SELECT h.position,
       CASE WHEN (h.d ->> 'event_id')::uuid = p_event_id THEN p_event_id
            ELSE eventlog.refuse('the event''s id differs from the id inside its bytes')::uuid END,
       CASE WHEN h.d ->> 'stream_id' = p_stream_id THEN p_stream_id
            ELSE eventlog.refuse(format('the event must name stream %s', p_stream_id)) END,
       CASE WHEN p_expected_version IS NULL OR p_expected_version = h.version THEN h.version + 1
            -- a retry of a stored event: any value will do, ON CONFLICT skips the row
            WHEN EXISTS (SELECT 1 FROM eventlog.events x WHERE x.event_id = p_event_id) THEN h.version + 1
            ELSE eventlog.refuse_version(p_stream_id, p_expected_version, h.version) END,
       h.d ->> 'type',
       (h.d ->> 'schema_version')::integer,
       (h.d ->> 'occurred_at')::timestamptz,
       h.d -> 'metadata' ->> 'actor',
       h.d -> 'metadata' ->> 'causation_id',
       h.d -> 'metadata' ->> 'correlation_id',
       coalesce(h.d -> 'metadata', '{}'::jsonb),
       h.d -> 'payload',
       p_entry, h.leaf,
       sha256('\x02'::bytea || int8send(h.position) || h.prev || h.leaf)
FROM h
WHERE p_stream_id <> ''
ON CONFLICT (event_id) DO NOTHING
RETURNING ev.position, ev.stream_version, false;
$$;
