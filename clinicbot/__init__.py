"""Clinic WhatsApp assistant: the library behind the Rasa project."""

__version__ = "0.1.0"
