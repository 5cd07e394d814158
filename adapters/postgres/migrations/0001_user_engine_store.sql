-- user-engine store, schema version 1, PostgreSQL.
--
-- Applied verbatim by user-engine-postgres inside its own transaction, after it has taken a
-- transaction-scoped advisory lock for the target schema, so there is no BEGIN/COMMIT here.
-- Names are unqualified: objects land in the first schema of search_path. Every statement is
-- IF NOT EXISTS, so applying the file twice is harmless. Append-only: once applied anywhere this
-- file never changes (its checksum is recorded); a change ships as 0002_*.sql.
--
-- Identifier columns use COLLATE "C" so that ORDER BY and cursor comparisons follow byte order,
-- the order every user-engine adapter shares, whatever the database's default collation is.

-- Applied migrations: one row per manifest entry, with the checksum of the file's exact text.
CREATE TABLE IF NOT EXISTS user_engine_schema_versions (
    version    integer     PRIMARY KEY CHECK (version > 0),
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Logical records: users, profiles, contact points, authentication factors, consents and
-- preferences, keyed by (tenant, kind, id). The payload is the record's JSON body.
CREATE TABLE IF NOT EXISTS user_engine_records (
    tenant_id text COLLATE "C" NOT NULL CHECK (tenant_id ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    kind      text COLLATE "C" NOT NULL
              CONSTRAINT user_engine_records_kind_known
              CHECK (kind IN ('auth_factor', 'consent', 'contact_point', 'preference', 'profile', 'user')),
    record_id text COLLATE "C" NOT NULL CHECK (record_id ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    user_id   text COLLATE "C"          CHECK (user_id ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    payload   jsonb           NOT NULL,
    version   bigint          NOT NULL CHECK (version > 0),
    PRIMARY KEY (tenant_id, kind, record_id)
);

-- Listing a tenant's records by owning user, in (kind, id) order.
CREATE INDEX IF NOT EXISTS user_engine_records_by_user
    ON user_engine_records (tenant_id, user_id, kind, record_id)
    WHERE user_id IS NOT NULL;

-- Audit log. `sequence` is taken while the committing transaction holds the commit-order
-- advisory lock (see the outbox below), so it increases in commit order.
CREATE TABLE IF NOT EXISTS user_engine_audit_records (
    sequence         bigserial       PRIMARY KEY,
    tenant_id        text COLLATE "C" NOT NULL,
    actor_user_id    text COLLATE "C",
    action           text            NOT NULL,
    target_tenant_id text COLLATE "C",
    target_kind      text COLLATE "C",
    target_record_id text COLLATE "C",
    recorded_at      timestamptz     NOT NULL DEFAULT now(),
    CONSTRAINT user_engine_audit_records_target_complete CHECK (
        (target_tenant_id IS NULL) = (target_kind IS NULL)
        AND (target_kind IS NULL) = (target_record_id IS NULL)
    )
);

CREATE INDEX IF NOT EXISTS user_engine_audit_records_by_tenant
    ON user_engine_audit_records (tenant_id, sequence);

-- Transactional outbox.
--
-- A bigserial id alone does not give commit order: ids are taken when rows are inserted, and a
-- transaction that took id 5 may commit after one that took id 6, so a relay reading
-- `id > last_seen` would skip 5 for ever. Instead, a committing transaction takes
--     pg_advisory_xact_lock(<outbox commit lock>, <schema key>)
-- as its last step, and only then draws one `commit_seq` from the sequence below and inserts its
-- events. The lock is held until COMMIT returns and is released only once the transaction is
-- visible, so commit_seq order is visibility order: when a reader sees commit_seq N, every
-- transaction with a smaller commit_seq is already visible. Pending events are read
-- `ORDER BY commit_seq, id` (enqueue order within a transaction) and stay pending until
-- acknowledged, so nothing is skipped and redelivery is at-least-once.
-- CACHE 1 (the default) matters: a per-session cache would hand out values out of lock order.
CREATE SEQUENCE IF NOT EXISTS user_engine_outbox_commit_seq AS bigint CACHE 1;

CREATE TABLE IF NOT EXISTS user_engine_outbox_events (
    id              bigserial       PRIMARY KEY,
    commit_seq      bigint          NOT NULL,
    tenant_id       text COLLATE "C" NOT NULL,
    topic           text            NOT NULL,
    event_key       text            NOT NULL,
    payload         jsonb           NOT NULL,
    enqueued_at     timestamptz     NOT NULL DEFAULT now(),
    acknowledged_at timestamptz
);

-- The relay's read: pending events in commit order.
CREATE INDEX IF NOT EXISTS user_engine_outbox_events_pending
    ON user_engine_outbox_events (commit_seq, id)
    WHERE acknowledged_at IS NULL;
