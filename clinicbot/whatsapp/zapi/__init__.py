"""WhatsApp through the Z-API (z-api.io) gateway.

- :mod:`.connector`: the Rasa input channel ``ZapiInput`` (webhook, authentication) and its
  output channel;
- :mod:`.parsing`: webhook payload → :class:`~clinicbot.whatsapp.events.InboundEvent`;
- :mod:`.sender`: outbox row → Z-API call; :mod:`.client`, :mod:`.errors`, :mod:`.messages`:
  the async HTTP client, its error and the interactive message parts;
- :mod:`.payloads`: builders of the webhook payloads Z-API posts (sandbox simulator, tests).
"""
