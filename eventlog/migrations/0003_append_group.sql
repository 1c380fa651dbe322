-- Group commit: many appends, to many streams, in one transaction and one WAL flush.
--
-- Appends are serialised until they commit (the append lock row, 0002), so before this every append
-- paid its own WAL flush while every other writer waited: 16 writers on one process went no faster
-- than one. eventlog.append_group() takes the appends that queued up while the previous commit was
-- in flight (EventLog's group committer), runs each exactly as a lone append would run (0002's
-- append_one() for one event, append() otherwise), and the caller's statement commits them all at
-- once: one flush for the group.
--
-- Each append runs in its own subtransaction (a PL/pgSQL exception block, that is a SAVEPOINT), so
-- one that fails (a version conflict, a reused event id, a bad entry) is rolled back alone and
-- reported in its own row, and the others in the group still commit. An idempotent retry is answered
-- with the stored positions as before, even when the first attempt is earlier in the same group
-- (every statement sees the group's earlier inserts). The append lock row is taken first, outside any
-- subtransaction, so it is held by the group's transaction until it commits whatever fails inside:
-- positions stay gapless and in commit order, and each append extends the chain of the one before.
--
-- Arguments, one element per append except the last two:
--   p_stream_ids, p_expected_versions (NULL: any), p_counts (events in each append);
--   p_event_ids, p_entries: every append's events, one after another, in order.
-- Returns one row per append, in order: its positions (NULL on failure), stream version, whether it
-- was stored already, and on failure the SQLSTATE, message and detail of the error it raised alone.
CREATE FUNCTION eventlog.append_group(
    p_stream_ids text[], p_expected_versions bigint[], p_counts integer[], p_event_ids uuid[], p_entries bytea[])
RETURNS TABLE (out_append integer, out_positions bigint[], out_stream_version bigint, out_duplicate boolean,
               out_sqlstate text, out_message text, out_detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n       integer := coalesce(cardinality(p_stream_ids), 0);
    v_from    integer := 1;
    v_count   integer;
    v_ids     uuid[];
    v_entries bytea[];
BEGIN
    IF coalesce(cardinality(p_expected_versions), 0) <> v_n OR coalesce(cardinality(p_counts), 0) <> v_n
       OR coalesce(cardinality(p_event_ids), 0) <> coalesce(cardinality(p_entries), 0)
       OR coalesce(cardinality(p_entries), 0) <> (SELECT coalesce(sum(c), 0) FROM unnest(p_counts) AS c) THEN
        RAISE EXCEPTION 'append_group needs one stream id, expected version and count per append, and as many ids and entries as the counts add up to'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'eventlog.append_group must run at READ COMMITTED isolation, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;

    -- The group's one lock, held by its transaction (not by a subtransaction) until it commits.
    PERFORM 1 FROM eventlog.append_lock FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'eventlog.append_lock has lost its row; appends cannot be serialised without it'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    FOR i IN 1 .. v_n LOOP
        v_count := p_counts[i];
        v_ids := p_event_ids[v_from : v_from + v_count - 1];
        v_entries := p_entries[v_from : v_from + v_count - 1];
        v_from := v_from + greatest(v_count, 0);
        out_append := i;
        out_positions := NULL;
        out_stream_version := NULL;
        out_duplicate := NULL;
        out_sqlstate := NULL;
        out_message := NULL;
        out_detail := NULL;
        BEGIN  -- a subtransaction: a failure here rolls back this append only
            IF v_count = 1 THEN  -- the cheap path; it returns no row for a stored id
                SELECT array_agg(a.out_position ORDER BY a.out_position), max(a.out_stream_version), bool_and(a.out_duplicate)
                INTO out_positions, out_stream_version, out_duplicate
                FROM eventlog.append_one(p_stream_ids[i], p_expected_versions[i], v_ids[1], v_entries[1]) AS a;
            END IF;
            IF out_positions IS NULL THEN
                SELECT array_agg(a.out_position ORDER BY a.out_position), max(a.out_stream_version), bool_and(a.out_duplicate)
                INTO out_positions, out_stream_version, out_duplicate
                FROM eventlog.append(p_stream_ids[i], p_expected_versions[i], v_ids, v_entries) AS a;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS out_sqlstate = RETURNED_SQLSTATE, out_message = MESSAGE_TEXT,
                                    out_detail = PG_EXCEPTION_DETAIL;
            out_positions := NULL;
            out_stream_version := NULL;
            out_duplicate := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION eventlog.append_group(text[], bigint[], integer[], uuid[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventlog.append_group(text[], bigint[], integer[], uuid[], bytea[]) TO coproduce_writer;
