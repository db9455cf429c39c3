from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cdp_site.health import health

admin.site.site_header = "Tributary CDP"
admin.site.site_title = "Tributary"
admin.site.index_title = "Customer data"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/auth/", include("dj_rest_auth.urls")),
    path("healthz", health, name="health"),
]
