"""Student dashboard API."""
