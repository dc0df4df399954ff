-- Outreach (inbox_core::ports::Outreach): broadcasts and their recipients.
-- A broadcast is its JSON document with the columns workers look it up by
-- (state, when it is due); a recipient is one row per (broadcast,
-- contact): added once, claimed by one worker at a time (a token and a
-- lease), settled forward only (pending -> queued | skipped).
CREATE TABLE inbox_broadcasts (
    tenant_id     text COLLATE "C" NOT NULL REFERENCES inbox_tenants (tenant_id),
    broadcast_id  text COLLATE "C" NOT NULL,
    version       bigint NOT NULL,
    state         text NOT NULL,
    due_us        bigint,
    created_us    bigint NOT NULL,
    data          jsonb NOT NULL,
    PRIMARY KEY (tenant_id, broadcast_id)
);
-- Workers drain due broadcasts of every tenant, oldest first.
CREATE INDEX inbox_broadcasts_due ON inbox_broadcasts (due_us) WHERE due_us IS NOT NULL;

CREATE SEQUENCE inbox_recipient_claims;

CREATE TABLE inbox_recipients (
    tenant_id     text COLLATE "C" NOT NULL,
    broadcast_id  text COLLATE "C" NOT NULL,
    contact_id    text COLLATE "C" NOT NULL,
    state         text NOT NULL CHECK (state IN ('pending', 'queued', 'skipped')),
    message_id    text COLLATE "C",
    reason        text,
    claim_token   bigint,
    claim_until_us bigint,
    PRIMARY KEY (tenant_id, broadcast_id, contact_id),
    FOREIGN KEY (tenant_id, broadcast_id) REFERENCES inbox_broadcasts (tenant_id, broadcast_id)
);
-- Claims take pending recipients in contact order.
CREATE INDEX inbox_recipients_pending ON inbox_recipients (tenant_id, broadcast_id, contact_id)
    WHERE state = 'pending';
