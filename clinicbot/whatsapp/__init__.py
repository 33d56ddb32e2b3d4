"""WhatsApp channel connectors for Rasa (Z-API first; Meta's Cloud API next)."""
