-- Access (inbox_core::ports::Access): agents' password hashes, signed-in
-- sessions and API keys. No secret is stored: a password as its Argon2 PHC
-- string, a session under the SHA-256 of its token, an API key with the
-- SHA-256 of its secret part.
--
-- A session is found by its token's hash and a key by its id, in whatever
-- tenant (a request presents them without its tenant): like the phone number
-- index of channels, these two keys do not include tenant_id (under Citus,
-- look them up on the coordinator or make the tables reference tables).
-- Every other read and write names the tenant.
--
-- Times are microseconds since the Unix epoch, as elsewhere.
CREATE TABLE inbox_agent_passwords (
    tenant_id  text COLLATE "C" NOT NULL,
    agent_id   text COLLATE "C" NOT NULL,
    phc        text NOT NULL,
    PRIMARY KEY (tenant_id, agent_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES inbox_agents (tenant_id, agent_id)
);

CREATE TABLE inbox_sessions (
    token_hash    bytea PRIMARY KEY,
    tenant_id     text COLLATE "C" NOT NULL,
    agent_id      text COLLATE "C" NOT NULL,
    created_us    bigint NOT NULL,
    expires_us    bigint NOT NULL,
    last_seen_us  bigint,
    user_agent    text,
    FOREIGN KEY (tenant_id, agent_id) REFERENCES inbox_agents (tenant_id, agent_id)
);
-- An agent's sessions (and a tenant's), newest first; the purge by expiry.
CREATE INDEX inbox_sessions_agent ON inbox_sessions (tenant_id, agent_id, created_us DESC);
CREATE INDEX inbox_sessions_expires ON inbox_sessions (expires_us);

CREATE TABLE inbox_api_keys (
    key_id        text COLLATE "C" PRIMARY KEY,
    tenant_id     text COLLATE "C" NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL,
    key_hash      bytea NOT NULL,
    created_us    bigint NOT NULL,
    created_by    text COLLATE "C",
    last_used_us  bigint,
    revoked_us    bigint
);
CREATE INDEX inbox_api_keys_tenant ON inbox_api_keys (tenant_id, key_id);
