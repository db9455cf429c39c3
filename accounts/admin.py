from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin
from accounts.models import ApiKey, AuthToken, User
from accounts.scopes import SCOPE_CHOICES, SCOPES
from accounts.services.api_keys import create_api_key, revoke_api_key, update_api_key


@admin.register(User)
class TributaryUserAdmin(RoleAwareAdmin, UserAdmin):
    form = UserChangeForm  # the theme's widgets
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(RoleAwareAdmin, GroupAdmin):
    """Roles are groups (``accounts.roles``); on the theme like every admin."""


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="; ".join(f"{name}: {text}" for name, text in SCOPES.items()),
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes")


@admin.register(ApiKey)
class ApiKeyAdmin(HistoryAdmin):
    history_list_display = ("history_actor",)  # who: user, API key or source
    form = ApiKeyForm
    list_display = ("name", "prefix", "scope_list", "created_by", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("created_by",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "user", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scopes")
        return ("name", "scopes", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps pointing at the key

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            update_api_key(api_key=obj, name=data["name"], scopes=data["scopes"])
            return
        api_key, key = create_api_key(
            name=data["name"], scopes=data["scopes"], created_by=request.user
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(request, f"API key {api_key.name} (shown only once, copy it now): {key}")

    @admin.action(
        description="Revoke selected API keys (they stop working at once)", permissions=["change"]
    )
    def revoke_keys(self, request, queryset):
        revoked = sum(revoke_api_key(api_key=api_key, actor=request.user) for api_key in queryset)
        messages.success(request, f"Revoked {revoked} API key(s).")


@admin.register(AuthToken)
class AuthTokenAdmin(RoleAwareAdmin):
    """People's sign-in tokens: only a prefix is known; delete one to sign it out."""

    list_display = ("user", "prefix", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "prefix")
    readonly_fields = ("user", "prefix", "created_at")

    def has_add_permission(self, request):
        return False  # tokens come from signing in

    def has_change_permission(self, request, obj=None):
        return False
