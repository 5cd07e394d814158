-- user-engine store, schema version 2, MySQL 8 / MariaDB 10.5 and later: a key's versions never
-- repeat.
--
-- Applied verbatim by user-engine-mysql under the migration lock, after 0001. Append-only, like
-- every migration. Re-runnable like 0001, as DDL commits on its own: the column is added only
-- when it is missing (MySQL has no ADD COLUMN IF NOT EXISTS, so the statement is chosen from
-- information_schema and prepared; MariaDB would accept either form).
--
-- Until now a delete removed the row, so a record written again after its delete started over at
-- version 1, and a guard `expect version 1` taken on the old record was satisfied by the new one
-- (a lost update through delete and re-create). From this version on a delete keeps the row as a
-- tombstone: `deleted` is set to 1, the owner cleared and the payload replaced by JSON `null` (no
-- value of a deleted record is kept), and `version` stays the key's last version, so the next
-- write of the key continues from it (store-contract C2). Every read filters `deleted = 0`.
--
-- Keys deleted before this migration left no row; their last versions are not known, and such a
-- key written again starts at 1 once more. Nothing else changes for existing rows.
SET @user_engine_add_deleted = (
    SELECT IF(COUNT(*) = 0,
              'ALTER TABLE user_engine_records ADD COLUMN deleted TINYINT NOT NULL DEFAULT 0, ADD CONSTRAINT user_engine_records_deleted_flag CHECK (deleted IN (0, 1))',
              'DO 0')
    FROM information_schema.columns
    WHERE table_schema = DATABASE()
      AND table_name = 'user_engine_records'
      AND column_name = 'deleted'
);
PREPARE user_engine_add_deleted FROM @user_engine_add_deleted;
EXECUTE user_engine_add_deleted;
DEALLOCATE PREPARE user_engine_add_deleted;
SET @user_engine_add_deleted = NULL;
