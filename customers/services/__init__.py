"""The write layer for profiles: every change to customers goes through here."""
