"""Business rules of the assistant, testable without Rasa (the actions stay thin)."""
