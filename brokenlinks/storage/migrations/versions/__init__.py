"""The revisions, oldest first: ``0001_baseline`` is the schema of the first release."""
