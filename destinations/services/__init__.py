"""The write layer for destinations: configuration, dispatch, sending, replay."""
