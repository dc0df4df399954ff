-- "Webhook" names inbound WhatsApp notifications only; the outbound
-- deliveries of events to CRMs and other endpoints are "subscriptions"
-- (inbox_core::ports::SubscriptionLog). Migration 8's tables, their keys
-- and index take that name; renaming keeps every row, and the old names
-- are no longer used.
ALTER TABLE inbox_webhook_positions RENAME TO inbox_subscription_positions;
ALTER INDEX inbox_webhook_positions_pkey RENAME TO inbox_subscription_positions_pkey;
ALTER TABLE inbox_webhook_deliveries RENAME TO inbox_subscription_deliveries;
ALTER INDEX inbox_webhook_deliveries_pkey RENAME TO inbox_subscription_deliveries_pkey;
ALTER INDEX inbox_webhook_deliveries_due RENAME TO inbox_subscription_deliveries_due;
