-- The tag filter's GIN index holds tagged conversations only. A GIN index
-- on an array also indexes empty arrays (as an "empty item"), so every
-- conversation update that is not HOT (each customer message moves the
-- activity time) inserted into it even for the many conversations that
-- have no tag. The filter (`tags @> ARRAY[$tag]`) only ever matches tagged
-- conversations; its queries also say `tags <> '{}'`, which lets the
-- planner use this partial index.
CREATE INDEX inbox_conversations_tagged ON inbox_conversations USING gin (tags) WHERE tags <> '{}';
DROP INDEX inbox_conversations_tags;
