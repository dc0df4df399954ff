-- The parent BSUID (`CC.ENT.…`) of a contact, WhatsApp's id of a customer
-- shared by the business portfolios a business has linked: a customer
-- writing to numbers of two linked portfolios has two BSUIDs and one
-- parent, and is found by it when neither their number nor this
-- portfolio's BSUID is known yet. Not unique (contacts made before the
-- parent was known may share it until merged): the lookup takes the first
-- by contact id.
ALTER TABLE inbox_contacts ADD COLUMN parent_user_id text;
UPDATE inbox_contacts SET parent_user_id = data->'identity'->>'parent_user_id'
 WHERE data->'identity'->>'parent_user_id' IS NOT NULL;
CREATE INDEX inbox_contacts_parent_user_id ON inbox_contacts (tenant_id, parent_user_id)
 WHERE parent_user_id IS NOT NULL;
