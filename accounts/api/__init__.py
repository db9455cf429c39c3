"""API plumbing that needs people and keys: authentication, scopes, masking, throttling."""
