"""Persistence: the engine, the models, the writes and reads, and the schema migrations."""
