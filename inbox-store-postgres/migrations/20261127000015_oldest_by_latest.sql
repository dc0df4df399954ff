-- Oldest first is served by the `latest` index, (tenant_id,
-- (-last_activity_us), conversation_id), read backwards, and with an owner
-- or team filter by the `assignee_latest`, `team_latest` and `unassigned`
-- indexes the same way: the queries order by the negated activity time
-- descending, and the ties (conversations with the same activity time,
-- which the backward scan returns in descending id order) are put in
-- ascending id order by an incremental sort. The index on the activity
-- time ascending goes: every customer message's conversation update
-- (never HOT, the activity time being indexed) inserted into it.
DROP INDEX IF EXISTS inbox_conversations_oldest;
