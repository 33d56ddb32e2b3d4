"""Proactive WhatsApp messages: appointment confirmations, reminders and cancellations.

Each message is a ``notifications`` row (pending → queued → sent | failed, or canceled), so
nothing is lost when a process restarts. By job:

- :mod:`.policy`: when messages may go out (reminder offsets, quiet hours, how long offers hold);
- :mod:`.scheduling`: an appointment's messages, planned as rows to send later;
- :mod:`.composing`: what an appointment's message says when it goes out;
- :mod:`.dispatch`: due rows into the channel outbox, each exactly once;
- :mod:`.delivery`: a row is sent when the provider accepted its message (or failed);
- :mod:`.replies`: what a patient's bare "sim"/"não" answers, and the answers to reminders.

Waiting-list offers travel in the same rows through the same dispatcher; the waiting-list service
(:mod:`clinicbot.services.waiting_list`) creates and composes them.
"""
