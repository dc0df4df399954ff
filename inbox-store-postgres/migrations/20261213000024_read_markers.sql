-- Read markers (inbox_core::ports::ReadMarkers): how far each agent has
-- read each conversation, as the conversation's message count they had
-- seen. Unread for an agent = the count now - their marker (0 without a
-- row). A marker only moves forward (GREATEST on conflict). Every read and
-- write names the tenant; a marker needs the tenant's agent and
-- conversation (the constraints' names tell which one is missing).
CREATE TABLE inbox_read_markers (
    tenant_id        text COLLATE "C" NOT NULL,
    agent_id         text COLLATE "C" NOT NULL,
    conversation_id  text COLLATE "C" NOT NULL,
    seen             bigint NOT NULL CHECK (seen >= 0),
    PRIMARY KEY (tenant_id, agent_id, conversation_id),
    CONSTRAINT inbox_read_markers_agent
        FOREIGN KEY (tenant_id, agent_id) REFERENCES inbox_agents (tenant_id, agent_id),
    CONSTRAINT inbox_read_markers_conversation
        FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES inbox_conversations (tenant_id, conversation_id)
);
