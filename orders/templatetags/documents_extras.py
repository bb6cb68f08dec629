"""Template helpers of the PDF documents: the letterhead logo, French typography and money (issue 11)."""

import re
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from orders.documents import STATIC_ROOT

register = template.Library()

NBSP = "\u00a0"
NNBSP = "\u202f"
MINUS = "\u2212"
# A no-break space before « : ; ! ? % € » and after « « » (the narrow one before ; ! ? %).
_PUNCTUATION = re.compile(r"[ \u00a0\u202f]*([:;!?%€»])")
_AFTER_GUILLEMET = re.compile(r"«[ \u00a0\u202f]*")
# « n° 12 », « Vague 2 », « tranche C », « art. 293 B », « 3 160,50 » stay on one line.
_GLUED_WORDS = re.compile(r"\b(n°|N°|Vague|vague|tranche|art\.|page|Page|version|PERF|Date) (?=\S)")
_NUMBER_GROUPS = re.compile(r"(?<=\d) (?=\d{3}\b)")
# Identifiers and numbers (anything with a digit) are never split across lines.
_TOKEN_WITH_DIGIT = re.compile(r"(?<![&#\w])([^\s&;<>]*\d[^\s&;<>]*)")


def _punctuation(match: re.Match[str]) -> str:
    mark = match.group(1)
    return (NNBSP if mark in ";!?%" else NBSP) + mark


@register.filter(is_safe=True)
def typo(value: Any) -> SafeString:
    """French typography of a text: escaped once, no-break spaces where French puts them, numbers and identifiers
    kept whole (``<span class="nowrap">``). Used on every text of the documents."""
    text = str(conditional_escape("" if value is None else value))
    text = _NUMBER_GROUPS.sub(NNBSP, text)
    text = _GLUED_WORDS.sub(lambda m: m.group(1) + NBSP, text)
    text = _AFTER_GUILLEMET.sub("«" + NBSP, text)
    # Punctuation: work on the text outside entities (&amp; &#x27;) so that their « ; » is left alone.
    parts = re.split(r"(&[#\w]+;)", text)
    text = "".join(part if re.fullmatch(r"&[#\w]+;", part) else _outside_entities(part) for part in parts)
    return mark_safe(text)  # noqa: S308 — escaped above, only spaces and spans added


def _outside_entities(text: str) -> str:
    text = _PUNCTUATION.sub(_punctuation, text)
    return _TOKEN_WITH_DIGIT.sub(r'<span class="nowrap">\1</span>', text)


@register.filter(is_safe=True)
def money(value: Any) -> str:
    """3 160,50 € — a narrow no-break space between thousands, a no-break space before €, "−" when negative."""
    if value in (None, ""):
        return "—"
    amount = Decimal(value)
    whole, cents = f"{abs(amount):,.2f}".split(".")
    sign = MINUS if amount < 0 else ""
    return f"{sign}{whole.replace(',', NNBSP)},{cents}{NBSP}€"


@register.filter(is_safe=True)
def decimal_fr(value: Any) -> str:
    """0,5 — a decimal comma, no trailing zeros (PERF, rates)."""
    if value in (None, ""):
        return ""
    return f"{Decimal(value).normalize():f}".replace(".", ",")


@register.simple_tag
def provider_logo() -> str:
    """The letterhead logo from settings (``SEGUR_PROVIDER_LOGO``, a file under ``static/``), or "" if none."""
    logo = settings.SEGUR_PROVIDER_LOGO
    if not logo:
        return ""
    path = (STATIC_ROOT / logo).resolve()
    return logo if STATIC_ROOT.resolve() in path.parents and path.is_file() else ""
