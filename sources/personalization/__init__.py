"""Personalization: ``GET /v1/personalize`` for browsers, and the cached profile documents.

- ``documents``: each profile's REST answer, cached by (profile, version),
  read by the REST profile API and by the endpoint;
- ``config``: what the answers depend on besides the profile (purposes,
  segments, computed traits), re-read every few seconds per process;
- ``secrets``: the identity secret that signs user ids (``userHash``);
- ``answers``: what one source's browser may learn about one visitor.
"""
