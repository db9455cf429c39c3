"""REST API plumbing shared by every app: auth, scopes, errors, paging, schema.

Apps put their endpoints in their own ``api.py`` and register them on
``cdp_site.api.router.router``; see the README's "REST API" section.
"""
