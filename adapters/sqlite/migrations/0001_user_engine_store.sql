-- user-engine store, schema version 1, SQLite.
--
-- Applied verbatim by user-engine-sqlite inside its own BEGIN IMMEDIATE transaction, so there is
-- no BEGIN/COMMIT here. Every statement is IF NOT EXISTS, so applying the file twice is harmless.
-- Append-only: once applied anywhere this file never changes (its checksum is recorded); a change
-- ships as 0002_*.sql. The logical schema is the PostgreSQL one (migrations/postgres/); text
-- comparisons use SQLite's default BINARY collation, i.e. byte order, as all adapters do.

-- Applied migrations: one row per manifest entry, with the checksum of the file's exact text.
CREATE TABLE IF NOT EXISTS user_engine_schema_versions (
    version    INTEGER PRIMARY KEY CHECK (version > 0),
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Logical records: users, profiles, contact points, authentication factors, consents and
-- preferences, keyed by (tenant, kind, id). The payload is the record's JSON text.
CREATE TABLE IF NOT EXISTS user_engine_records (
    tenant_id TEXT    NOT NULL CHECK (length(tenant_id) BETWEEN 1 AND 128 AND tenant_id NOT GLOB '*[^A-Za-z0-9_.@:-]*'),
    kind      TEXT    NOT NULL
              CONSTRAINT user_engine_records_kind_known
              CHECK (kind IN ('auth_factor', 'consent', 'contact_point', 'preference', 'profile', 'user')),
    record_id TEXT    NOT NULL CHECK (length(record_id) BETWEEN 1 AND 128 AND record_id NOT GLOB '*[^A-Za-z0-9_.@:-]*'),
    user_id   TEXT             CHECK (length(user_id) BETWEEN 1 AND 128 AND user_id NOT GLOB '*[^A-Za-z0-9_.@:-]*'),
    payload   TEXT    NOT NULL CHECK (json_valid(payload)),
    version   INTEGER NOT NULL CHECK (version > 0),
    PRIMARY KEY (tenant_id, kind, record_id)
) STRICT, WITHOUT ROWID;

-- Listing a tenant's records by owning user, in (kind, id) order.
CREATE INDEX IF NOT EXISTS user_engine_records_by_user
    ON user_engine_records (tenant_id, user_id, kind, record_id)
    WHERE user_id IS NOT NULL;

-- Audit log. SQLite has one writer at a time, so `sequence` increases in commit order.
-- AUTOINCREMENT: a sequence number is never reused.
CREATE TABLE IF NOT EXISTS user_engine_audit_records (
    sequence         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT    NOT NULL,
    actor_user_id    TEXT,
    action           TEXT    NOT NULL,
    target_tenant_id TEXT,
    target_kind      TEXT,
    target_record_id TEXT,
    recorded_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT user_engine_audit_records_target_complete CHECK (
        (target_tenant_id IS NULL) = (target_kind IS NULL)
        AND (target_kind IS NULL) = (target_record_id IS NULL)
    )
) STRICT;

CREATE INDEX IF NOT EXISTS user_engine_audit_records_by_tenant
    ON user_engine_audit_records (tenant_id, sequence);

-- Transactional outbox. Events are inserted only inside the committing write transaction, and
-- SQLite serialises write transactions, so id order is commit order (enqueue order within one
-- transaction) and a reader can never see id N without every smaller id that will ever commit.
-- PostgreSQL needs an explicit commit_seq for this; SQLite does not. Events stay pending until
-- acknowledged (at-least-once delivery).
CREATE TABLE IF NOT EXISTS user_engine_outbox_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    event_key       TEXT    NOT NULL,
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    enqueued_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    acknowledged_at TEXT
) STRICT;

-- The relay's read: pending events in commit order.
CREATE INDEX IF NOT EXISTS user_engine_outbox_events_pending
    ON user_engine_outbox_events (id)
    WHERE acknowledged_at IS NULL;
