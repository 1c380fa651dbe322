-- Read-only views of engagements for auditors who use psql (the coproduce_auditor role).
-- They read the hashed bytes through eventlog.audit_events, so what they show is what verification
-- covers. They are conveniences for queries; `coproduce audit timeline` adds what SQL cannot easily
-- say (whether a voter was authorised at the time, which the training rules decide).

CREATE VIEW engagements.summary AS
SELECT s.stream_id                                   AS engagement_id,
       st.payload #>> '{plan,title}'                 AS title,
       st.payload #>> '{plan,organisation,name}'     AS organisation,
       s.first_occurred_at                           AS started_at,
       (SELECT max(e.occurred_at) FROM eventlog.audit_events e
         WHERE e.stream_id = s.stream_id AND e.event_type = 'engagement_completed') AS completed_at,
       s.events, s.first_position, s.last_position
FROM eventlog.audit_streams s
JOIN eventlog.audit_events st ON st.stream_id = s.stream_id AND st.event_type = 'engagement_started';
COMMENT ON VIEW engagements.summary IS 'One row per engagement: its plan title, organisation, dates and events';

CREATE VIEW engagements.timeline AS
SELECT position, stream_id AS engagement_id, stream_version, event_type, occurred_at, recorded_at,
       actor, causation_id,
       payload ->> 'phase_id' AS phase_id,
       coalesce(payload ->> 'person_id', payload ->> 'decided_by', payload ->> 'requested_by',
                payload ->> 'overridden_by', payload ->> 'amended_by', payload ->> 'paused_by',
                payload ->> 'resumed_by', payload ->> 'recorded_by', payload ->> 'started_by') AS person_id,
       coalesce(payload ->> 'choice', payload ->> 'outcome') AS choice_or_outcome,
       payload ->> 'reason' AS reason,
       payload
FROM eventlog.audit_events;
COMMENT ON VIEW engagements.timeline IS 'Every event of every engagement, in log order, with its usual fields pulled out';

CREATE VIEW engagements.votes AS
SELECT v.position, v.stream_id AS engagement_id, v.payload ->> 'phase_id' AS phase_id,
       (v.payload ->> 'round')::integer AS round, v.payload ->> 'person_id' AS person_id,
       r.entry ->> 'constituency' AS constituency, v.payload ->> 'choice' AS choice,
       v.payload ->> 'reason' AS reason, v.occurred_at, v.recorded_at
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
COMMENT ON VIEW engagements.votes IS 'Each vote with the constituency the gate''s roster gave the voter';

CREATE VIEW engagements.gate_decisions AS
SELECT d.position, d.stream_id AS engagement_id, d.payload ->> 'phase_id' AS phase_id,
       (d.payload ->> 'round')::integer AS round, d.payload ->> 'outcome' AS outcome,
       d.payload ->> 'decided_by' AS decided_by, d.payload ->> 'reason' AS reason,
       d.occurred_at, d.recorded_at,
       (SELECT count(*) FROM engagements.votes v WHERE v.engagement_id = d.stream_id
           AND v.phase_id = d.payload ->> 'phase_id' AND v.round = (d.payload ->> 'round')::integer
           AND v.choice = 'approve') AS approvals,
       (SELECT count(*) FROM engagements.votes v WHERE v.engagement_id = d.stream_id
           AND v.phase_id = d.payload ->> 'phase_id' AND v.round = (d.payload ->> 'round')::integer
           AND v.choice = 'object') AS objections
FROM eventlog.audit_events d
WHERE d.event_type = 'gate_decided';
COMMENT ON VIEW engagements.gate_decisions IS 'Each gate round''s outcome with the votes cast (counted or not)';

CREATE VIEW engagements.check_ins AS
SELECT position, stream_id AS engagement_id, payload ->> 'person_id' AS person_id,
       (payload ->> 'comfort')::integer AS comfort, occurred_at, recorded_at
FROM eventlog.audit_events
WHERE event_type = 'check_in_recorded';
COMMENT ON VIEW engagements.check_ins IS 'Comfort check-ins (1 = very uneasy .. 5 = comfortable)';

CREATE VIEW engagements.measurements AS
SELECT position, stream_id AS engagement_id,
       CASE event_type WHEN 'baseline_recorded' THEN 'baseline' ELSE 'measurement' END AS kind,
       payload ->> 'indicator' AS indicator, (payload ->> 'value')::double precision AS value,
       payload ->> 'milestone_id' AS milestone_id, payload ->> 'recorded_by' AS recorded_by,
       occurred_at, recorded_at
FROM eventlog.audit_events
WHERE event_type IN ('baseline_recorded', 'measurement_recorded');
COMMENT ON VIEW engagements.measurements IS 'Baselines and measurements of the evaluation strategy''s indicators';

GRANT USAGE ON SCHEMA engagements TO coproduce_writer, coproduce_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA engagements TO coproduce_writer, coproduce_auditor;
REVOKE ALL ON engagements.schema_migrations FROM coproduce_writer, coproduce_auditor;
