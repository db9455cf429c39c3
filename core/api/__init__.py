"""REST API plumbing every app's ``api.py`` uses: error shape, paging, the router.

Apps put their endpoints in their own ``api.py`` and register them on
``core.api.router.router``; see the README's "REST API" section. What needs
the user and API-key models (authentication, scopes, masking, throttling) is
in ``accounts.api``, the layer above.
"""
