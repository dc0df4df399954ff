-- Durable state of outbound webhooks (inbox_core::ports::WebhookLog): where
-- each subscription stands in the event log, and the deliveries waiting for
-- another attempt or given up (dead letters). A delivery (tenant,
-- subscription, event seq) is one row, a retry or a dead letter.
CREATE TABLE inbox_webhook_positions (
    tenant_id     text COLLATE "C" NOT NULL,
    subscription  text COLLATE "C" NOT NULL,
    position      bigint NOT NULL,
    PRIMARY KEY (tenant_id, subscription)
);

CREATE TABLE inbox_webhook_deliveries (
    tenant_id     text COLLATE "C" NOT NULL,
    subscription  text COLLATE "C" NOT NULL,
    seq           bigint NOT NULL,
    dead          boolean NOT NULL,
    due_us        bigint,
    data          jsonb NOT NULL,
    PRIMARY KEY (tenant_id, subscription, seq)
);
-- Due retries, earliest first.
CREATE INDEX inbox_webhook_deliveries_due
    ON inbox_webhook_deliveries (tenant_id, subscription, due_us, seq) WHERE NOT dead;
