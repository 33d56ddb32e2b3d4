"""The public REST API under ``/api/v1`` (clinic service): keys, scopes, idempotency, problems."""
