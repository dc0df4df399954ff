-- Reports select the conversations opened in a time range through the
-- `newest` keyset index, (tenant_id, (-created_us), conversation_id), by
-- the negated bounds; the index on (tenant_id, created_us) it duplicated
-- goes. Every conversation update that is not HOT (each customer message
-- moves the activity time, which is indexed) inserted into it.
DROP INDEX IF EXISTS inbox_conversations_created;
