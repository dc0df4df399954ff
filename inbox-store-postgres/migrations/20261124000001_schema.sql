-- inbox schema, version 1.
--
-- Every table carries tenant_id and every primary and unique key includes
-- it, so the schema can be distributed by tenant (Citus: distribution column
-- tenant_id) -- except the global phone number index of channels, which is
-- how a webhook finds its tenant (make channels a reference table).
-- Ids use the "C" collation so that the database orders them exactly as the
-- core does (byte order), which keyset pagination relies on.

CREATE TABLE inbox_tenants (
    tenant_id   text COLLATE "C" PRIMARY KEY,
    name        text NOT NULL,
    event_seq   bigint NOT NULL DEFAULT 0
);

CREATE TABLE inbox_channels (
    tenant_id        text COLLATE "C" NOT NULL REFERENCES inbox_tenants (tenant_id),
    channel_id       text COLLATE "C" NOT NULL,
    phone_number_id  text NOT NULL,
    data             jsonb NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);
CREATE UNIQUE INDEX inbox_channels_phone_number_id ON inbox_channels (phone_number_id);

CREATE TABLE inbox_teams (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES inbox_tenants (tenant_id),
    team_id    text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);

CREATE TABLE inbox_agents (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES inbox_tenants (tenant_id),
    agent_id   text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);

CREATE TABLE inbox_contacts (
    tenant_id   text COLLATE "C" NOT NULL,
    contact_id  text COLLATE "C" NOT NULL,
    wa_id       text,
    user_id     text,
    version     bigint NOT NULL,
    data        jsonb NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
);
CREATE UNIQUE INDEX inbox_contacts_wa_id ON inbox_contacts (tenant_id, wa_id) WHERE wa_id IS NOT NULL;
CREATE UNIQUE INDEX inbox_contacts_user_id ON inbox_contacts (tenant_id, user_id) WHERE user_id IS NOT NULL;

CREATE TABLE inbox_conversations (
    tenant_id          text COLLATE "C" NOT NULL,
    conversation_id    text COLLATE "C" NOT NULL,
    channel_id         text COLLATE "C" NOT NULL,
    contact_id         text COLLATE "C" NOT NULL,
    status             text NOT NULL,
    assignee           text COLLATE "C",
    team_id            text COLLATE "C",
    priority_rank      smallint NOT NULL,
    tags               text[] NOT NULL DEFAULT '{}',
    last_activity_us   bigint NOT NULL,
    created_us         bigint NOT NULL,
    waiting_us         bigint,
    version            bigint NOT NULL,
    row_seq            bigserial NOT NULL,
    data               jsonb NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);
-- At most one active (not resolved) conversation per contact and number.
CREATE UNIQUE INDEX inbox_conversations_one_active
    ON inbox_conversations (tenant_id, channel_id, contact_id) WHERE status <> 'resolved';
CREATE INDEX inbox_conversations_pair ON inbox_conversations (tenant_id, channel_id, contact_id, row_seq);
CREATE INDEX inbox_conversations_contact ON inbox_conversations (tenant_id, contact_id);
CREATE INDEX inbox_conversations_load
    ON inbox_conversations (tenant_id, assignee) WHERE status <> 'resolved';
-- Keyset indexes, one per sort order (expressions match the queries).
CREATE INDEX inbox_conversations_latest ON inbox_conversations (tenant_id, (-last_activity_us), conversation_id);
CREATE INDEX inbox_conversations_oldest ON inbox_conversations (tenant_id, last_activity_us, conversation_id);
CREATE INDEX inbox_conversations_waiting
    ON inbox_conversations (tenant_id, (COALESCE(waiting_us, 9223372036854775807)), conversation_id);
CREATE INDEX inbox_conversations_priority
    ON inbox_conversations (tenant_id, (-priority_rank), (-last_activity_us), conversation_id);
CREATE INDEX inbox_conversations_newest ON inbox_conversations (tenant_id, (-created_us), conversation_id);
-- The common inbox views: active by owner / queue, latest first.
CREATE INDEX inbox_conversations_assignee_latest
    ON inbox_conversations (tenant_id, assignee, (-last_activity_us), conversation_id);
CREATE INDEX inbox_conversations_team_latest
    ON inbox_conversations (tenant_id, team_id, (-last_activity_us), conversation_id);
CREATE INDEX inbox_conversations_tags ON inbox_conversations USING gin (tags);

CREATE TABLE inbox_messages (
    tenant_id        text COLLATE "C" NOT NULL,
    message_id       text COLLATE "C" NOT NULL,
    conversation_id  text COLLATE "C" NOT NULL,
    channel_id       text COLLATE "C" NOT NULL,
    external_id      text,
    idempotency_key  text,
    msg_seq          bigserial NOT NULL,
    data             jsonb NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE UNIQUE INDEX inbox_messages_external_id
    ON inbox_messages (tenant_id, channel_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX inbox_messages_idempotency_key
    ON inbox_messages (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX inbox_messages_conversation ON inbox_messages (tenant_id, conversation_id, msg_seq);

CREATE TABLE inbox_events (
    tenant_id             text COLLATE "C" NOT NULL,
    seq                   bigint NOT NULL,
    conversation_id       text COLLATE "C",
    conversation_version  bigint,
    data                  jsonb NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX inbox_events_conversation ON inbox_events (tenant_id, conversation_id, seq)
    WHERE conversation_id IS NOT NULL;

CREATE SEQUENCE inbox_outbox_tokens;
CREATE TABLE inbox_outbox (
    tenant_id    text COLLATE "C" NOT NULL,
    message_id   text COLLATE "C" NOT NULL,
    not_before   timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    token        bigint,
    lease_until  timestamptz,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX inbox_outbox_due ON inbox_outbox (not_before) WHERE token IS NULL;
CREATE INDEX inbox_outbox_lapsed ON inbox_outbox (lease_until) WHERE token IS NOT NULL;
