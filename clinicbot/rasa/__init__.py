"""The project's plug-ins for Rasa's own machinery, named by class path in ``endpoints.yml``.

- :mod:`.stores`: the tracker store (``DATABASE_URL``) and the lock store (``REDIS_URL``);
- :mod:`.event_broker`: writes each WhatsApp message's intent and confidence into the message
  log once Rasa saves the turn.
"""
