"""Template helpers of the PDF documents."""

from django import template
from django.conf import settings

from orders.documents import STATIC_ROOT

register = template.Library()


@register.simple_tag
def provider_logo() -> str:
    """The letterhead logo from settings (``SEGUR_PROVIDER_LOGO``, a file under ``static/``), or "" if none."""
    logo = settings.SEGUR_PROVIDER_LOGO
    if not logo:
        return ""
    path = (STATIC_ROOT / logo).resolve()
    return logo if STATIC_ROOT.resolve() in path.parents and path.is_file() else ""
