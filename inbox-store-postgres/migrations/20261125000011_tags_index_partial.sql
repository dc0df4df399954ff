-- The tag index holds only conversations that have tags. Every update of a
-- conversation that is not HOT (each customer message moves its activity
-- time) inserted an entry for an empty tag list into the GIN index, which
-- no query can use: tag filters (`tags @> ARRAY[...]`) also say
-- `tags <> '{}'`, so they still use it.
DROP INDEX inbox_conversations_tags;
CREATE INDEX inbox_conversations_tags ON inbox_conversations USING gin (tags) WHERE tags <> '{}'::text[];
