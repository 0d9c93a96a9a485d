"""Webhooks in the API: endpoints (admin only), their delivery log, send again."""
