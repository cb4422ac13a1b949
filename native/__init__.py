"""Native runner: the stack's services as local processes (no Docker engine)."""
