from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backoffice.views import global_search, search_suggestions
from cdp_site.health import health
from core.api.errors import not_found as api_not_found
from sources.personalization.views import demo_page

admin.site.site_header = "Tributary CDP"
admin.site.site_title = "Tributary"
admin.site.index_title = "Customer data"

urlpatterns = [
    path("admin/search/", admin.site.admin_view(global_search), name="backoffice-search"),
    path(
        "admin/search/suggest/",
        admin.site.admin_view(search_suggestions),
        name="backoffice-suggest",
    ),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/auth/", include("accounts.api.auth_urls")),
    path("api/v1/", include("cdp_site.api_urls")),
    re_path(r"^api/", api_not_found),  # JSON 404 for any other path under /api/
    path("healthz", health, name="health"),
    path("v1/", include("sources.urls")),
    path("demo/personalize/", demo_page, name="demo-personalize"),
]

handler400 = "core.api.errors.bad_request"
handler404 = "core.api.errors.page_not_found"
handler500 = "core.api.errors.server_error"
