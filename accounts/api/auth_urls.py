"""/api/v1/auth/: sign-in for people (dj-rest-auth), never for API keys.

Only session and token authentication apply here, so an API key cannot read
or change its own account or set it a password. Password reset by e-mail is
not offered: staff passwords are reset in the admin.
"""

from dj_rest_auth.views import LoginView, LogoutView, PasswordChangeView, UserDetailsView
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication

from accounts.api.authentication import AuthTokenAuthentication
from accounts.models import AuthToken
from accounts.services.auth_tokens import revoke_token

PEOPLE_AUTHENTICATION = [AuthTokenAuthentication, SessionAuthentication]  # 401 + challenge first


def people_only(view_class, **attrs):
    attrs = {"authentication_classes": PEOPLE_AUTHENTICATION, **attrs}
    return type(view_class.__name__, (view_class,), attrs).as_view()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema(request=None, responses={200: DetailSerializer})
class PostLogoutView(LogoutView):
    """Sign out (deletes the token it was sent with, ends the session). POST only."""

    http_method_names = ["post", "options"]

    def logout(self, request):
        if isinstance(request.auth, AuthToken):
            revoke_token(token=request.auth)
        return super().logout(request)


urlpatterns = [
    path("login/", people_only(LoginView), name="rest_login"),
    path("logout/", people_only(PostLogoutView), name="rest_logout"),
    path("user/", people_only(UserDetailsView), name="rest_user_details"),
    path("password/change/", people_only(PasswordChangeView), name="rest_password_change"),
]
