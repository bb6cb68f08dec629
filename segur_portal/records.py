"""Shared mechanisms for records written once (audit logs, issued invoices, generated documents)."""

from typing import Any, ClassVar

from django.db import models
from django.http import HttpRequest

# The SQLSTATE the database triggers of migration ``orders.0014_write_once_triggers`` raise with the model's French
# message: a class of its own, so the refusal is never mistaken for a constraint race.
WRITE_ONCE_SQLSTATE = "SGW01"


class WriteOnceRecord:
    """Mixed into a model before ``models.Model``: a saved row is never edited nor deleted.

    Each model says why in French (``edit_refusal``, ``delete_refusal``); the same ``ValueError`` reaches the admin,
    the services and the tasks. The model's manager must be ``WriteOnceQuerySet.as_manager()`` (bulk updates and
    deletes), and on PostgreSQL a trigger refuses any UPDATE or DELETE of its table with the same message, whatever
    the client.
    """

    edit_refusal: ClassVar[str]
    delete_refusal: ClassVar[str]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:  # type: ignore[attr-defined]
            raise ValueError(self.edit_refusal)
        super().save(*args, **kwargs)  # type: ignore[misc]

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(self.delete_refusal)


class WriteOnceQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """The queryset of a ``WriteOnceRecord``: creating and reading only; ``update()``, ``bulk_update()`` and
    ``delete()`` (and so related managers and admin actions) refuse with the model's French message."""

    def update(self, **kwargs: Any) -> int:
        raise ValueError(self.model.edit_refusal)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        # Refused before Django's own ``atomic(savepoint=False)``, which would doom the caller's transaction.
        raise ValueError(self.model.edit_refusal)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError(self.model.delete_refusal)


class ViewOnlyAdminMixin:
    """Mixed into a ``ModelAdmin``: staff read the records, nobody adds, edits or deletes one from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
