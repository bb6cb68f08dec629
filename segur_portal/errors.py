"""French error pages (400, 403, CSRF, 404, 500) for staff and clients, each with a link back to where they came from.

The pages render without a request context: no context processor, no database query, no static file, so the 500
page still renders when the database or the static manifest is what failed.
"""

from django.http import HttpRequest, HttpResponse
from django.template import loader

CLIENT_SPACE_PREFIX = "/espace-client/"


def back_link(request: HttpRequest) -> dict[str, str]:
    """Clients go back to their space; staff (and anything else) to the back-office."""
    if request.path.startswith(CLIENT_SPACE_PREFIX):
        return {"back_url": CLIENT_SPACE_PREFIX, "back_label": "Retour à votre espace client"}
    return {"back_url": "/admin/", "back_label": "Retour au back-office"}


def error_page(request: HttpRequest, template_name: str, status: int) -> HttpResponse:
    content = loader.get_template(template_name).render(back_link(request))
    response = HttpResponse(content, status=status)
    response["Content-Language"] = "fr"
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_page(request, "400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_page(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_page(request, "500.html", 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the form was sent without a valid token (expired page, cookies blocked)."""
    return error_page(request, "403_csrf.html", 403)
