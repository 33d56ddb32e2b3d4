"""Clinic WhatsApp assistant: the library behind the Rasa project (channels, NLU, GestãoDS, data)."""

__version__ = "0.1.0"
