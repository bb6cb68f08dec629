"""Shared mechanisms for records written once (audit logs, issued invoices, generated documents)."""

from typing import Any, ClassVar

from django.http import HttpRequest


class WriteOnceRecord:
    """Mixed into a model before ``models.Model``: a saved row is never edited nor deleted.

    Each model says why in French (``edit_refusal``, ``delete_refusal``); the same ``ValueError`` reaches the admin,
    the services and the tasks.
    """

    edit_refusal: ClassVar[str]
    delete_refusal: ClassVar[str]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:  # type: ignore[attr-defined]
            raise ValueError(self.edit_refusal)
        super().save(*args, **kwargs)  # type: ignore[misc]

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(self.delete_refusal)


class ViewOnlyAdminMixin:
    """Mixed into a ``ModelAdmin``: staff read the records, nobody adds, edits or deletes one from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
