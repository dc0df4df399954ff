-- Dead letters (inbox_core::ports::DeadLetters): inbound items the inbox
-- refused, kept whole for an operator to list and replay. A letter is
-- recorded once per item: `item_key` is the SHA-256 of its source, phone
-- number id, the reason code it was first refused with and the raw item, so
-- a webhook Meta delivers again adds nothing.
--
-- `tenant_id` is NULL for an item whose number no tenant had when it
-- arrived (its admin sees it once the number is provisioned), so this
-- table is keyed by the letter id, not by tenant: under Citus it stays a
-- local table of the coordinator (it is small and written rarely).
--
-- `raw` and `data` (the letter without its item, as JSON) are text, not
-- jsonb: an item may hold an escaped NUL (\u0000), which jsonb refuses.
CREATE TABLE inbox_dead_letters (
    id               text COLLATE "C" PRIMARY KEY,
    item_key         bytea NOT NULL UNIQUE,
    tenant_id        text COLLATE "C",
    phone_number_id  text COLLATE "C",
    received_us      bigint NOT NULL,
    pending          boolean NOT NULL,
    raw              text NOT NULL,
    data             text NOT NULL
);
-- A tenant's letters, newest first.
CREATE INDEX inbox_dead_letters_by_tenant
    ON inbox_dead_letters (tenant_id, received_us DESC, id);
-- Letters of numbers no tenant had yet, by number, newest first.
CREATE INDEX inbox_dead_letters_unclaimed
    ON inbox_dead_letters (phone_number_id, received_us DESC, id)
    WHERE tenant_id IS NULL;
