-- Tenant settings (inbox_core::ports::Settings): each tenant's settings
-- document, versioned, and the history of every change (who, when, each
-- changed section before and after). A put updates the row only from the
-- version its author saw (`WHERE version = expected`), so of two edits made
-- on one version one is stored and the other is refused.
--
-- `document` and `sections` are JSON as text, not jsonb: texts a tenant
-- writes (canned responses, auto-replies) may hold an escaped NUL (\u0000),
-- which jsonb refuses, and the document comes back exactly as it was put.
CREATE TABLE inbox_tenant_settings (
    tenant_id   text COLLATE "C" PRIMARY KEY,
    version     bigint NOT NULL,
    document    text NOT NULL,
    updated_us  bigint NOT NULL,
    updated_by  text COLLATE "C"
);
CREATE TABLE inbox_tenant_settings_history (
    tenant_id  text COLLATE "C" NOT NULL,
    version    bigint NOT NULL,
    at_us      bigint NOT NULL,
    by_agent   text COLLATE "C",
    sections   text NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
