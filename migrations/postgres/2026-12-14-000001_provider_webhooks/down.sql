DROP TABLE provider_webhook_events;
