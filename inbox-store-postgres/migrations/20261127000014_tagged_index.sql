-- The tag filter's GIN index holds tagged conversations only. A GIN index
-- on an array also indexes empty arrays (as an "empty item"), so every
-- conversation update that is not HOT (each customer message moves the
-- activity time) inserted into it even for the many conversations that
-- have no tag. The filter (`tags @> ARRAY[$tag]`) only ever matches tagged
-- conversations; its queries also say `cardinality(tags) > 0`, which lets
-- the planner use this partial index. (Not `tags <> '{}'`: the planner
-- would take that clause's selectivity from the column's statistics and
-- multiply it with the tag's, as if they were independent, and so expect
-- twenty times too few rows for a common tag: a bitmap scan and a sort of
-- all of them instead of walking the latest-first index, 170 ms against
-- 2.6 ms on a million conversations. This clause gets the default
-- selectivity of a third.)
CREATE INDEX inbox_conversations_tagged ON inbox_conversations USING gin (tags) WHERE cardinality(tags) > 0;
DROP INDEX inbox_conversations_tags;
