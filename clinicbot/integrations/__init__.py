"""Integrations with the clinic's other systems: events for CRMs and their signed webhooks."""
