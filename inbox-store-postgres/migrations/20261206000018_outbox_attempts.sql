-- A send attempt is recorded before the message is handed to the transport
-- (Store::begin_outbox_attempt). A lapsed claim is in doubt only if an
-- attempt began under it; a claim that lapsed before any attempt (the
-- dispatcher lost the database, or died, before sending) is claimed again
-- and sent. `attempts` now counts attempts begun, not claims.
ALTER TABLE inbox_outbox ADD COLUMN sending_since timestamptz;

-- Claims held while this migration runs were taken by code that did not
-- record its attempts: treat them as begun, so none is sent twice.
UPDATE inbox_outbox SET sending_since = lease_until WHERE token IS NOT NULL;

-- A conversation's entries are handed out one at a time, in the order they
-- were committed: an entry is claimable only when no earlier entry of its
-- conversation is left (waiting for a retry, claimed, or in doubt until
-- released). `seq` is that order; entries already queued take their
-- message's commit order.
ALTER TABLE inbox_outbox ADD COLUMN conversation_id text COLLATE "C", ADD COLUMN seq bigint;
UPDATE inbox_outbox o SET conversation_id = m.conversation_id, seq = m.msg_seq
  FROM inbox_messages m WHERE m.tenant_id = o.tenant_id AND m.message_id = o.message_id;
-- An entry whose message is gone is never sent (the dispatcher drops it).
DELETE FROM inbox_outbox WHERE conversation_id IS NULL;
CREATE SEQUENCE inbox_outbox_seq;
SELECT setval('inbox_outbox_seq', COALESCE((SELECT max(msg_seq) FROM inbox_messages), 0) + 1, false);
ALTER TABLE inbox_outbox
  ALTER COLUMN conversation_id SET NOT NULL,
  ALTER COLUMN seq SET DEFAULT nextval('inbox_outbox_seq'),
  ALTER COLUMN seq SET NOT NULL;
CREATE INDEX inbox_outbox_conversation ON inbox_outbox (tenant_id, conversation_id, seq);

-- Messages in doubt (they may not have reached the customer), counted by
-- the live snapshot. Only outbound messages without a provider id reach
-- the document in the predicate, so inbound messages and sent replies pay
-- nothing for it. One an agent has sent again no longer counts.
CREATE INDEX inbox_messages_in_doubt ON inbox_messages (tenant_id, channel_id)
    WHERE external_id IS NULL AND direction = 'outbound'
      AND (data -> 'delivery' ->> 'in_doubt_since') IS NOT NULL
      AND (data -> 'delivery' ->> 'status') = 'pending'
      AND (data -> 'delivery' ->> 'resent_as') IS NULL;
