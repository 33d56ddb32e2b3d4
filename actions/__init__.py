"""Rasa custom actions: thin wrappers that read slots, call clinicbot services and answer."""
