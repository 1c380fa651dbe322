-- Personal text in the log is sealed (see activities/personal_data.py): in psql the views show
-- "(sealed)" for it instead of ciphertext. `coproduce audit timeline`, run by someone allowed to read
-- the people register, shows the text itself.
CREATE FUNCTION engagements.shown_text(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN value LIKE 'sealed:v1:%' THEN '(sealed)' ELSE value END;
GRANT EXECUTE ON FUNCTION engagements.shown_text(text) TO coproduce_writer, coproduce_auditor;

CREATE OR REPLACE VIEW engagements.timeline AS
SELECT position, stream_id AS engagement_id, stream_version, event_type, occurred_at, recorded_at,
       actor, causation_id,
       payload ->> 'phase_id' AS phase_id,
       coalesce(payload ->> 'person_id', payload ->> 'decided_by', payload ->> 'requested_by',
                payload ->> 'overridden_by', payload ->> 'amended_by', payload ->> 'paused_by',
                payload ->> 'resumed_by', payload ->> 'recorded_by', payload ->> 'started_by') AS person_id,
       coalesce(payload ->> 'choice', payload ->> 'outcome') AS choice_or_outcome,
       engagements.shown_text(payload ->> 'reason') AS reason,
       payload
FROM eventlog.audit_events;

CREATE OR REPLACE VIEW engagements.votes AS
SELECT v.position, v.stream_id AS engagement_id, v.payload ->> 'phase_id' AS phase_id,
       (v.payload ->> 'round')::integer AS round, v.payload ->> 'person_id' AS person_id,
       r.entry ->> 'constituency' AS constituency, v.payload ->> 'choice' AS choice,
       engagements.shown_text(v.payload ->> 'reason') AS reason, v.occurred_at, v.recorded_at
FROM eventlog.audit_events v
LEFT JOIN LATERAL (
    SELECT roster.entry
    FROM eventlog.audit_events g, jsonb_array_elements(g.payload -> 'roster') AS roster(entry)
    WHERE g.stream_id = v.stream_id AND g.event_type = 'gate_opened'
      AND g.payload ->> 'phase_id' = v.payload ->> 'phase_id' AND g.payload ->> 'round' = v.payload ->> 'round'
      AND roster.entry ->> 'person_id' = v.payload ->> 'person_id'
    LIMIT 1
) r ON true
WHERE v.event_type = 'vote_cast';

CREATE OR REPLACE VIEW engagements.gate_decisions AS
SELECT d.position, d.stream_id AS engagement_id, d.payload ->> 'phase_id' AS phase_id,
       (d.payload ->> 'round')::integer AS round, d.payload ->> 'outcome' AS outcome,
       d.payload ->> 'decided_by' AS decided_by, engagements.shown_text(d.payload ->> 'reason') AS reason,
       d.occurred_at, d.recorded_at,
       (SELECT count(*) FROM engagements.votes v WHERE v.engagement_id = d.stream_id
           AND v.phase_id = d.payload ->> 'phase_id' AND v.round = (d.payload ->> 'round')::integer
           AND v.choice = 'approve') AS approvals,
       (SELECT count(*) FROM engagements.votes v WHERE v.engagement_id = d.stream_id
           AND v.phase_id = d.payload ->> 'phase_id' AND v.round = (d.payload ->> 'round')::integer
           AND v.choice = 'object') AS objections
FROM eventlog.audit_events d
WHERE d.event_type = 'gate_decided';

