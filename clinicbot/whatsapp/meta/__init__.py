"""WhatsApp through Meta's Cloud API.

- :mod:`.connector`: the Rasa input channel ``MetaInput`` (handshake, signed webhook) and its
  output channel; :mod:`.signature`: the ``X-Hub-Signature-256`` check;
- :mod:`.parsing`: webhook body → :class:`~clinicbot.whatsapp.events.InboundEvent` s;
- :mod:`.sender`: outbox row → Graph API call, a template outside the 24-hour window
  (:mod:`.service_window`); :mod:`.client`, :mod:`.errors`: the async HTTP client and its error;
- :mod:`.payloads`: builders of the webhook payloads Meta posts (sandbox, tests).
"""
