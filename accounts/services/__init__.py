"""The write layer for accounts and access (API keys)."""
