-- What the cost report reads from an outbound message, as columns every
-- writer fills (`facts.rs`): when it was sent (microseconds, the message's
-- `sent_at`; NULL for all but the inbox's own sends, `Message::is_api_send`) and what WhatsApp said
-- it costs (its `delivery.pricing`, NULL until a status says).
ALTER TABLE inbox_messages
    ADD COLUMN sent_us bigint,
    ADD COLUMN pricing jsonb;
UPDATE inbox_messages
   SET sent_us = (extract(epoch FROM (data->>'sent_at')::timestamptz) * 1000000)::bigint,
       pricing = (data->'delivery'->'pricing')::jsonb
 WHERE direction = 'outbound'
   -- `Message::is_api_send`: live, not another app's, not a call.
   AND COALESCE(data->>'origin', 'live') = 'live'
   AND COALESCE(data->'author'->>'kind', '') <> 'app'
   AND COALESCE(data->'content'->>'type', '') <> 'call';
-- The report's range: a tenant's outbound messages by sent time.
CREATE INDEX inbox_messages_sent ON inbox_messages (tenant_id, sent_us)
    INCLUDE (channel_id, conversation_id, author_agent)
    WHERE sent_us IS NOT NULL;
