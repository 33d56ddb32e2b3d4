"""Alerts to the clinic's staff (issue 13, point 3): conditions checked by the scheduler,
opened and resolved once each (``alerts`` table), told by WhatsApp, e-mail or a webhook."""
