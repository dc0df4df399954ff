-- Tenants the platform operator suspended, and the sealed secrets of each
-- number (inbox_core::ports::ChannelSecrets): ciphertext sealed by the
-- embedder's key (`key_id` names it, for rotation); the database never
-- sees a secret in the clear.
ALTER TABLE inbox_tenants ADD COLUMN suspended boolean NOT NULL DEFAULT false;

CREATE TABLE inbox_channel_secrets (
    tenant_id   text COLLATE "C" NOT NULL,
    channel_id  text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    key_id      text NOT NULL,
    sealed      bytea NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, name),
    FOREIGN KEY (tenant_id, channel_id) REFERENCES inbox_channels (tenant_id, channel_id)
);
