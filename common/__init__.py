"""Shared basics: Vietnamese text, settings, database helper, the Rasa client."""
