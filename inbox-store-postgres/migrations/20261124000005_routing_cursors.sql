-- Round-robin positions per team: the agent picked last, versioned so that
-- two instances routing at once cannot both move a cursor from the same
-- position.
CREATE TABLE inbox_routing_cursors (
    tenant_id  text   NOT NULL REFERENCES inbox_tenants (tenant_id),
    team_id    text   NOT NULL,
    last_agent text,
    version    bigint NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);
