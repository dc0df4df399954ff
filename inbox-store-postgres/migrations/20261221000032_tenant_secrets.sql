-- Tenant-wide sealed secrets (inbox_core::ports::ChannelSecrets'
-- tenant_secret methods): the credentials of a tenant's CRM and shop
-- connectors, sealed by the embedder's key like the numbers' secrets.
CREATE TABLE inbox_tenant_secrets (
    tenant_id   text COLLATE "C" NOT NULL REFERENCES inbox_tenants (tenant_id),
    name        text COLLATE "C" NOT NULL,
    key_id      text NOT NULL,
    sealed      bytea NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
