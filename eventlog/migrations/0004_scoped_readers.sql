-- Scoped readers: database logins that read only the streams of the scopes granted to them.
--
-- The log is one table for everyone who writes to it, but not everyone who reads it may see all of it
-- (the layers above give each client organisation a scope of its own). A stream belongs to at most one
-- scope, set once (eventlog.stream_scopes); a reader is granted scopes (eventlog.reader_scopes); a
-- login holding coproduce_scoped_auditor reads, through the same audit views as every auditor, only the
-- events of streams in its scopes. Row-level security on eventlog.events does the filtering, FORCEd so
-- that the views (which read the table with their owner's rights) filter too: the policy asks about
-- current_user, which a view does not change. Everyone else (the writer, the whole-log auditor, the
-- append functions running as the owner, a superuser, whom pg_has_role counts as a member of every
-- role) sees every row as before; the check for that is an InitPlan, evaluated once per query, not per
-- row.
--
-- The scoped auditor role reads the audit views through coproduce_auditor's grants, and migrate()
-- grants it WITH SET FALSE: a scoped login cannot SET ROLE coproduce_auditor to see everything. SET ROLE
-- coproduce_scoped_auditor itself leaves a session with no scope at all, so it sees nothing.

CREATE TABLE eventlog.stream_scopes (
    stream_id    text        PRIMARY KEY,
    scope        text        NOT NULL CHECK (scope <> ''),
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX stream_scopes_by_scope ON eventlog.stream_scopes (scope);
COMMENT ON TABLE eventlog.stream_scopes IS
    'The scope each stream belongs to; set once, never moved (the writer may add a row, not change one)';

CREATE TABLE eventlog.reader_scopes (
    reader      name        NOT NULL,
    scope       text        NOT NULL CHECK (scope <> ''),
    granted_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (reader, scope)
);
COMMENT ON TABLE eventlog.reader_scopes IS
    'The scopes each login holding coproduce_scoped_auditor may read; granted by an administrator';

ALTER TABLE eventlog.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventlog.events FORCE ROW LEVEL SECURITY;

CREATE POLICY readers_see_their_scopes ON eventlog.events FOR SELECT
USING (
    (SELECT r.rolsuper OR NOT pg_has_role(r.oid, 'coproduce_scoped_auditor', 'MEMBER')
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
    OR stream_id IN (
        SELECT s.stream_id
          FROM eventlog.stream_scopes s
          JOIN eventlog.reader_scopes r ON r.scope = s.scope
         WHERE r.reader = current_user
    )
);
-- Appends are checked by eventlog.append() and the grants, not by row security; an UPDATE or DELETE
-- still reaches the append-only triggers and fails there, loudly, as before.
CREATE POLICY appends_as_before ON eventlog.events FOR INSERT WITH CHECK (true);
CREATE POLICY changes_reach_the_triggers ON eventlog.events FOR UPDATE USING (true);
CREATE POLICY removals_reach_the_triggers ON eventlog.events FOR DELETE USING (true);

-- The writer reads the events table itself, and PostgreSQL checks the policy's tables against the
-- reader's own rights; it may read who is granted what (it reads every event anyway), never change it.
GRANT SELECT, INSERT ON eventlog.stream_scopes TO coproduce_writer;
GRANT SELECT ON eventlog.reader_scopes TO coproduce_writer;
