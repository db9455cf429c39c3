"""API plumbing of the customers app: addressing a profile as ``<type>:<value>``."""
