"""The one router every app's ``api.py`` registers its viewsets on.

    from core.api.router import router
    router.register("segments", SegmentViewSet, basename="segment")

``cdp_site/api_urls.py`` imports each app's ``api`` module, then serves
``router.urls`` under ``/api/v1/``.
"""

from rest_framework.routers import SimpleRouter

router = SimpleRouter(trailing_slash=True)
