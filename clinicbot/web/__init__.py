"""The clinic service: health, metrics and the sandbox WhatsApp simulator (Sanic, port 8000)."""
