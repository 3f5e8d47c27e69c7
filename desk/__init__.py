"""The help desk: hand-over queue, feedback and the unanswered inbox (no rasa_sdk)."""
