"""WhatsApp for the assistant: a provider-neutral core and one subpackage per provider.

The core (this package) stores each incoming message before its webhook is acknowledged, runs
its Rasa turn once and in order per patient, and sends the answers through a durable outbox.
Each provider (:mod:`~clinicbot.whatsapp.zapi`, :mod:`~clinicbot.whatsapp.meta`) brings its
client, webhook connector, payload parsing and sender. README.md ("Life of a message") names
the modules a message passes through, in and out.
"""
