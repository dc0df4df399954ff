-- A send attempt is recorded before the message is handed to the transport
-- (Store::begin_outbox_attempt). A lapsed claim is in doubt only if an
-- attempt began under it; a claim that lapsed before any attempt (the
-- dispatcher lost the database, or died, before sending) is claimed again
-- and sent. `attempts` now counts attempts begun, not claims.
ALTER TABLE inbox_outbox ADD COLUMN sending_since timestamptz;

-- Claims held while this migration runs were taken by code that did not
-- record its attempts: treat them as begun, so none is sent twice.
UPDATE inbox_outbox SET sending_since = lease_until WHERE token IS NOT NULL;

-- Messages in doubt (they may not have reached the customer), counted by
-- the live snapshot. Only outbound messages without a provider id reach
-- the document in the predicate, so inbound messages and sent replies pay
-- nothing for it.
CREATE INDEX inbox_messages_in_doubt ON inbox_messages (tenant_id, channel_id)
    WHERE external_id IS NULL AND direction = 'outbound'
      AND (data -> 'delivery' ->> 'in_doubt_since') IS NOT NULL
      AND (data -> 'delivery' ->> 'status') = 'pending';
