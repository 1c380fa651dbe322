-- Organisations: each engagement's organisation id (its scope in the event log, eventlog migration
-- 0004) beside the name its plan gives. A login limited to one organisation's scope sees only that
-- organisation's rows here, as in every view over eventlog.audit_events.
CREATE OR REPLACE VIEW engagements.summary AS
SELECT s.stream_id                                   AS engagement_id,
       st.payload #>> '{plan,title}'                 AS title,
       st.payload #>> '{plan,organisation,name}'     AS organisation,
       s.first_occurred_at                           AS started_at,
       (SELECT max(e.occurred_at) FROM eventlog.audit_events e
         WHERE e.stream_id = s.stream_id AND e.event_type = 'engagement_completed') AS completed_at,
       s.events, s.first_position, s.last_position,
       (SELECT sc.scope FROM eventlog.stream_scopes sc WHERE sc.stream_id = s.stream_id) AS organisation_id
FROM eventlog.audit_streams s
JOIN eventlog.audit_events st ON st.stream_id = s.stream_id AND st.event_type = 'engagement_started';
COMMENT ON VIEW engagements.summary IS
    'One row per engagement: its plan title, organisation (name and id), dates and events';
