-- Conversation timers (snooze wake-ups, window warnings ...), found by due
-- time; and reply leases.

CREATE TABLE inbox_timers (
    tenant_id        text COLLATE "C" NOT NULL,
    conversation_id  text COLLATE "C" NOT NULL,
    kind             text NOT NULL,
    due_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id, kind)
);
CREATE INDEX inbox_timers_due ON inbox_timers (due_at, tenant_id, conversation_id, kind);

CREATE TABLE inbox_leases (
    tenant_id        text COLLATE "C" NOT NULL,
    conversation_id  text COLLATE "C" NOT NULL,
    holder           text COLLATE "C" NOT NULL,
    until            timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);
