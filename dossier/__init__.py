"""Dossier status: one-stop adapters, status map, subscriptions, notifier, limits and audit."""
