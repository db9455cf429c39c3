"""The tracking API, mounted at ``/v1/``."""

from django.urls import path

from sources.personalization.views import personalize_view
from sources.services.parsing import CALL_TYPES
from sources.views import tracking_call

app_name = "tracking"

urlpatterns = [
    path("batch", tracking_call, name="batch"),
    path("import", tracking_call, name="import"),
    path("personalize", personalize_view, name="personalize"),
    *[path(name, tracking_call, {"call_type": name}, name=name) for name in CALL_TYPES],
]
