-- One index instead of two for a contact's conversations: its prefix
-- (tenant_id, contact_id) finds all of a contact's conversations (history,
-- merges, sticky routing), the whole key a number's latest conversation
-- with the contact (the ingest lookup, newest row_seq first). Every
-- conversation update that moves it in a sort order inserts into every
-- index, so each index fewer is one insert fewer per inbound message.
CREATE INDEX inbox_conversations_contact_pair
    ON inbox_conversations (tenant_id, contact_id, channel_id, row_seq);
DROP INDEX inbox_conversations_pair;
DROP INDEX inbox_conversations_contact;
