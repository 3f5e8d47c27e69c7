"""Voice gateway: a SIP endpoint that answers hotline calls (``python -m connectors.voice``)."""
