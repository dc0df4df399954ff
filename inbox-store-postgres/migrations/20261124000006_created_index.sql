-- Reports select the conversations opened in a time range.
CREATE INDEX inbox_conversations_created ON inbox_conversations (tenant_id, created_us);
