-- Gates waiting for a decision: the latest gate event of each phase is an opening, not a decision.
-- Operators alert on it (a gate pending too long), and the worker's metrics count it.
CREATE VIEW engagements.open_gates AS
SELECT engagement_id, phase_id, round, opened_at, position
FROM (
    SELECT DISTINCT ON (stream_id, payload ->> 'phase_id')
           stream_id AS engagement_id, payload ->> 'phase_id' AS phase_id,
           (payload ->> 'round')::integer AS round, occurred_at AS opened_at, position, event_type
    FROM eventlog.audit_events
    WHERE event_type IN ('gate_opened', 'gate_decided')
    ORDER BY stream_id, payload ->> 'phase_id', position DESC
) latest
WHERE event_type = 'gate_opened';
COMMENT ON VIEW engagements.open_gates IS 'Gates opened and not yet decided, with when they opened';

GRANT SELECT ON engagements.open_gates TO coproduce_writer, coproduce_auditor;
