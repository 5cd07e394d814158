-- user-engine store, schema version 1, MySQL 8 / MariaDB 10.5 and later (InnoDB).
--
-- Applied verbatim by user-engine-mysql while it holds the named lock
-- GET_LOCK('user_engine_migrate:<database>'), so concurrent migrators apply it once. MySQL commits
-- every DDL statement on its own, so this file cannot run inside one transaction: every statement
-- is re-runnable instead (IF NOT EXISTS, an upsert), and a migration interrupted part-way is
-- finished by running the file again. The adapter records the version right after the file ran.
-- Append-only: once applied anywhere this file never changes (its checksum is recorded); a change
-- ships as 0002_*.sql.
--
-- Text is utf8mb4, so every Unicode scalar value round-trips. Identifier columns use the binary
-- collation utf8mb4_bin, so ORDER BY and cursor comparisons follow byte order, the order every
-- user-engine adapter shares, whatever the server's default collation is. Payloads are JSON text
-- in LONGTEXT rather than the JSON type: MariaDB's JSON is an alias that may normalise the text,
-- and MySQL's reorders keys and rewrites numbers; the adapter stores exactly what it serialised.

-- Applied migrations: one row per manifest entry, with the checksum of the file's exact text.
CREATE TABLE IF NOT EXISTS user_engine_schema_versions (
    version    INT          NOT NULL,
    name       VARCHAR(255) NOT NULL,
    checksum   VARCHAR(64)  NOT NULL,
    applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (version),
    CONSTRAINT user_engine_schema_versions_version_positive CHECK (version > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Logical records: users, profiles, contact points, authentication factors, consents and
-- preferences, keyed by (tenant, kind, id). The payload is the record's JSON body.
CREATE TABLE IF NOT EXISTS user_engine_records (
    tenant_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    kind      VARCHAR(32)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    record_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_id   VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    payload   LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    version   BIGINT       NOT NULL,
    PRIMARY KEY (tenant_id, kind, record_id),
    -- Listing a tenant's records by owning user, in (kind, id) order.
    KEY user_engine_records_by_user (tenant_id, user_id, kind, record_id),
    CONSTRAINT user_engine_records_tenant_id_valid
        CHECK (tenant_id REGEXP '^[A-Za-z0-9_.@:-]{1,128}$'),
    CONSTRAINT user_engine_records_kind_known
        CHECK (kind IN ('auth_factor', 'consent', 'contact_point', 'preference', 'profile', 'user')),
    CONSTRAINT user_engine_records_record_id_valid
        CHECK (record_id REGEXP '^[A-Za-z0-9_.@:-]{1,128}$'),
    CONSTRAINT user_engine_records_user_id_valid
        CHECK (user_id IS NULL OR user_id REGEXP '^[A-Za-z0-9_.@:-]{1,128}$'),
    CONSTRAINT user_engine_records_version_positive CHECK (version > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Commit order. A committing transaction that appends audit entries or outbox events takes the
-- row lock of this table's one row as its last step before COMMIT
--     UPDATE user_engine_commit_order SET seq = LAST_INSERT_ID(seq + 1) WHERE id = 1
-- and only then inserts its audit and outbox rows. The lock is held until COMMIT, and InnoDB makes
-- a transaction visible before it releases its locks, so the AUTO_INCREMENT values below and the
-- outbox commit_seq are drawn in visibility order: a reader that sees number N also sees every
-- smaller one that will ever commit. An AUTO_INCREMENT id alone would not do: ids are taken when
-- rows are inserted, and a transaction that took id 5 may commit after one that took id 6, so a
-- relay reading `id > last_seen` would skip 5 for ever.
CREATE TABLE IF NOT EXISTS user_engine_commit_order (
    id  TINYINT NOT NULL,
    seq BIGINT  NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT user_engine_commit_order_one_row CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO user_engine_commit_order (id, seq) VALUES (1, 0)
    ON DUPLICATE KEY UPDATE id = id;

-- Audit log. `sequence` is drawn while the committing transaction holds the commit-order lock,
-- so it increases in commit order (gaps are allowed: a failed commit uses numbers up).
CREATE TABLE IF NOT EXISTS user_engine_audit_records (
    sequence         BIGINT       NOT NULL AUTO_INCREMENT,
    tenant_id        VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    actor_user_id    VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    action           LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    target_tenant_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    target_kind      VARCHAR(32)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    target_record_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    recorded_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (sequence),
    KEY user_engine_audit_records_by_tenant (tenant_id, sequence),
    CONSTRAINT user_engine_audit_records_target_complete CHECK (
        (target_tenant_id IS NULL) = (target_kind IS NULL)
        AND (target_kind IS NULL) = (target_record_id IS NULL)
    )
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Transactional outbox. A committing transaction draws one `commit_seq` from the commit-order row
-- above (under its lock) and inserts its events with it; `id` orders events within a transaction.
-- Pending events are read `ORDER BY commit_seq, id` and stay pending until acknowledged, so
-- nothing is skipped and redelivery is at-least-once.
CREATE TABLE IF NOT EXISTS user_engine_outbox_events (
    id              BIGINT       NOT NULL AUTO_INCREMENT,
    commit_seq      BIGINT       NOT NULL,
    tenant_id       VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    topic           LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    event_key       LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    payload         LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    enqueued_at     TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    acknowledged_at TIMESTAMP(6) NULL DEFAULT NULL,
    PRIMARY KEY (id),
    -- The relay's read: pending events in commit order.
    KEY user_engine_outbox_events_pending (acknowledged_at, commit_seq, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
