"""Search that ignores accents and case ("lemaitre" finds "Lemaître"), the same on PostgreSQL and SQLite.

The lookup is ``__unaccent__icontains`` (``django.contrib.postgres`` registers the ``unaccent`` transform on text
fields). PostgreSQL runs its ``unaccent`` extension (migration ``orders.0017_unaccent``). SQLite has no such function:
``sqlite_unaccent_register`` gives every SQLite connection a Python ``UNACCENT`` (registered when the connection opens),
so the same query runs there; its ``LIKE`` ignores case for the ASCII letters an unaccented text is made of.
"""

import unicodedata
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.text import smart_split, unescape_string_literal


def unaccent(value: str | None) -> str | None:
    """``Lemaître`` → ``Lemaitre``: the text without its combining marks (NFKD), as PostgreSQL's ``unaccent``."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(value))
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def sqlite_unaccent_register(sqlite_connection: Any) -> None:
    """Give a raw ``sqlite3`` connection the ``UNACCENT(text)`` function the ``unaccent`` lookup calls."""
    sqlite_connection.create_function("UNACCENT", 1, unaccent, deterministic=True)


@receiver(connection_created, dispatch_uid="segur_portal.search.sqlite_unaccent")
def _sqlite_unaccent_on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        sqlite_unaccent_register(connection.connection)


for _open in connections.all(initialized_only=True):  # connections opened before this module was imported
    if _open.vendor == "sqlite" and _open.connection is not None:
        sqlite_unaccent_register(_open.connection)


def accent_insensitive_search(
    queryset: QuerySet[Any], search_term: str, search_fields: tuple[str, ...] | list[str]
) -> QuerySet[Any]:
    """The admin's search (every word must match one of the fields) with accents and case ignored."""
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if not bit:
            continue
        matches = Q()
        for field in search_fields:
            matches |= Q(**{f"{field}__unaccent__icontains": bit})
        queryset = queryset.filter(matches)
    return queryset


class AccentInsensitiveSearchMixin:
    """A ModelAdmin whose search box (and autocomplete) ignores accents and case on its plain ``search_fields``."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        search_fields = self.get_search_fields(request)  # type: ignore[attr-defined]
        if not search_fields or not search_term:
            return queryset, False
        return accent_insensitive_search(queryset, search_term, search_fields), False
