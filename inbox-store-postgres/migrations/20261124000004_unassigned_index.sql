-- The team queues: unassigned conversations of a team (or of none), latest
-- first.
CREATE INDEX inbox_conversations_unassigned
    ON inbox_conversations (tenant_id, team_id, (-last_activity_us), conversation_id)
    WHERE assignee IS NULL;
