"""Tokens are created and revoked here; the key is shown once, in the message after creation, then never again."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api.models import ApiAccess, ApiToken, TokenKind, new_key, token_hash


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["kind", "name", "user", "client"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, user, client = data.get("kind"), data.get("user"), data.get("client")
        if kind == TokenKind.PERSONAL:
            if user is None:
                self.add_error("user", _("Un jeton personnel appartient à un membre du personnel : choisissez-le."))
            elif not user.is_staff or not user.is_active:
                self.add_error("user", _("Seul un membre actif du personnel reçoit un jeton personnel."))
            if client is not None:
                self.add_error("client", _("Un jeton personnel n'est lié à aucun client."))
        elif kind == TokenKind.INSTALLATION:
            if client is None:
                self.add_error("client", _("Un jeton d'installation est lié à un client : choisissez-le."))
            if user is not None:
                self.add_error("user", _("Un jeton d'installation n'appartient à aucun membre du personnel."))
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "kind", "user", "client", "key_start", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_start", "user__username", "client__name"]
    autocomplete_fields = ["client"]
    actions = ["revoke_tokens"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["kind", "user", "client", "key_start", "created_at", "created_by", "revoked_at", "last_used_at"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return ["kind", "name", "user", "client"]
        return ["name", *self.get_readonly_fields(request, obj)]

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoked, never deleted: the access log keeps pointing at it

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        if not change:
            key = new_key()
            obj.key_hash, obj.key_start, obj.created_by = token_hash(key), key[:12], request.user
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                _("Clé du jeton « %(name)s », affichée cette seule fois (copiez-la maintenant) : %(key)s")
                % {"name": obj.name, "key": key},
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Révoquer les jetons sélectionnés"))
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("Jetons révoqués : %(count)d.") % {"count": count}, messages.SUCCESS)


@admin.register(ApiAccess)
class ApiAccessAdmin(admin.ModelAdmin):
    list_display = ["created_at", "token", "method", "endpoint", "status", "remote_addr"]
    list_filter = ["status", "method"]
    search_fields = ["endpoint"]
    list_select_related = ["token"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiAccess | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiAccess | None = None) -> bool:
        return False
