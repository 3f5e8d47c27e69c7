"""Chat channels of the gateway."""
