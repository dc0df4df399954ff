-- What reports read from messages, as columns generated from the stored
-- document (so every writer fills them): the agent who wrote a reply or a
-- note, and the next response time of an agent reply (seconds, wall clock
-- and business hours; NULL for first responses and everything else).
-- Adding stored generated columns rewrites the table once.
ALTER TABLE inbox_messages
    ADD COLUMN author_agent text COLLATE "C"
        GENERATED ALWAYS AS (CASE WHEN data->'author'->>'kind' = 'agent' THEN data->'author'->>'id' END) STORED,
    ADD COLUMN direction text
        GENERATED ALWAYS AS (data->>'direction') STORED,
    ADD COLUMN next_response_secs bigint
        GENERATED ALWAYS AS (CASE WHEN data->'response'->>'first' = 'false' THEN (data->'response'->>'secs')::bigint END) STORED,
    ADD COLUMN next_response_business_secs bigint
        GENERATED ALWAYS AS (CASE WHEN data->'response'->>'first' = 'false' THEN (data->'response'->>'business_secs')::bigint END) STORED;

-- Reports join a population of conversations to what agents wrote in them:
-- an index-only scan of this partial index.
CREATE INDEX inbox_messages_by_agent
    ON inbox_messages (tenant_id, conversation_id)
    INCLUDE (author_agent, direction, next_response_secs, next_response_business_secs)
    WHERE author_agent IS NOT NULL;
