"""How the API answers a refusal, in French and as JSON, whatever went wrong (issue #16, Robustness).

- 422: the input is malformed (not JSON, wrong type, unknown field, naive date…): each error names its field.
- 409: a business rule refuses it (``BusinessRuleError``): each violation with its rule code, message, AF reference.
- 401/403/404/413/429: ``ApiError`` with a code and a message.
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer

from api.auth import ApiError, InvalidInput
from orders.exceptions import BusinessRuleError, RuleViolation

MALFORMED_BODY = "Le corps de la requête n'est pas un JSON valide en UTF-8."


class StrictJsonParser(Parser):
    """JSON in UTF-8 only; a lone surrogate (``"\\ud800"``) is refused here, before it reaches the database."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body.decode("utf-8"))
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
        return data


class FrenchJsonRenderer(JSONRenderer):
    """UTF-8 as it is (« Refusé »), not ``\\u00e9`` escapes."""

    json_dumps_params = {"ensure_ascii": False}  # noqa: RUF012


# Pydantic's error types, said in French (the default English text is never shown).
ERROR_MESSAGES = {
    "missing": "champ obligatoire",
    "extra_forbidden": "champ inconnu",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu (sans décimale)",
    "int_parsing_size": "nombre trop grand",
    "decimal_type": "montant attendu (par exemple « 1200.00 »)",
    "decimal_parsing": "montant attendu (par exemple « 1200.00 »)",
    "decimal_max_digits": "montant trop grand",
    "decimal_max_places": "au plus deux décimales (centimes)",
    "decimal_whole_digits": "montant trop grand",
    "finite_number": "nombre fini attendu",
    "datetime_type": "date et heure attendues (ISO 8601 avec fuseau, par exemple 2026-11-23T10:00:00+01:00)",
    "datetime_parsing": "date et heure attendues (ISO 8601 avec fuseau, par exemple 2026-11-23T10:00:00+01:00)",
    "datetime_from_date_parsing": "date et heure attendues (ISO 8601 avec fuseau)",
    "datetime_object_invalid": "date et heure invalides",
    "timezone_aware": "le fuseau horaire est obligatoire (par exemple +01:00 ou Z)",
    "date_type": "date attendue (AAAA-MM-JJ)",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_inexact": "date sans heure attendue (AAAA-MM-JJ)",
    "string_type": "texte attendu",
    "string_too_long": "texte trop long",
    "string_too_short": "texte trop court",
    "string_pattern_mismatch": "format invalide",
    "bool_type": "true ou false attendu",
    "bool_parsing": "true ou false attendu",
    "literal_error": "valeur non proposée",
    "enum": "valeur non proposée",
    "greater_than_equal": "valeur trop petite",
    "greater_than": "valeur trop petite",
    "less_than_equal": "valeur trop grande",
    "less_than": "valeur trop grande",
    "model_type": "objet JSON attendu",
    "model_attributes_type": "objet JSON attendu",
    "dict_type": "objet JSON attendu",
    "list_type": "liste attendue",
    "too_long": "trop d'éléments",
    "too_short": "pas assez d'éléments",
    "json_invalid": "JSON invalide",
}
LOCATIONS = {"body", "query", "path", "header", "cookie"}


def error_field(loc: list[Any] | tuple[Any, ...]) -> tuple[str, str]:
    """(location, field) from Pydantic's ``loc``: ``("body", "payload", "name")`` → ``("body", "name")``."""
    parts = [str(part) for part in loc]
    location = parts.pop(0) if parts and parts[0] in LOCATIONS else "body"
    if location == "body" and parts and parts[0] == "payload":
        parts.pop(0)
    return location, ".".join(parts)


def french_error(error: dict[str, Any]) -> dict[str, str]:
    location, field = error_field(error.get("loc", ()))
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "value_error" and "error" in context:
        text = str(context["error"])
    else:
        text = ERROR_MESSAGES.get(kind, "valeur invalide")
        if kind in {"literal_error", "enum"} and "expected" in context:
            text += f" (choix : {context['expected']})"
        elif kind == "string_too_long" and "max_length" in context:
            text += f" (au plus {context['max_length']} caractères)"
        elif kind in {"too_long"} and "max_length" in context:
            text += f" (au plus {context['max_length']})"
    label = field or location
    return {"location": location, "field": field, "code": kind or "invalid", "message": f"{label} : {text}."}


def invalid_response(api: NinjaAPI, request: HttpRequest, errors: list[dict[str, str]]) -> HttpResponse:
    detail = "Données invalides, rien n'a été modifié : " + " ".join(error["message"] for error in errors)
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


def refusal_body(violations: list[RuleViolation]) -> dict[str, Any]:
    return {
        "detail": "Refusé, rien n'a été modifié : " + " ".join(v.message for v in violations),
        "violations": [violation.as_dict() for violation in violations],
    }


def install_handlers(api: NinjaAPI) -> None:
    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return invalid_response(api, request, [french_error(error) for error in exc.errors])

    def on_business_rule(request: HttpRequest, exc: BusinessRuleError) -> HttpResponse:
        if any(violation.code == "PERMISSION_DENIED" for violation in exc.violations):
            body = {**refusal_body(exc.violations), "code": "PERMISSION_DENIED"}
            return api.create_response(request, body, status=403)
        return api.create_response(request, refusal_body(exc.violations), status=409)

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc, InvalidInput):
            return invalid_response(api, request, exc.errors)
        if isinstance(exc, ApiError):
            return api.create_response(request, {"detail": exc.message, "code": exc.code}, status=exc.status_code)
        if isinstance(exc, AuthenticationError):
            body = {"detail": "Jeton d'API absent, inconnu ou révoqué.", "code": "UNAUTHENTICATED"}
            return api.create_response(request, body, status=401)
        if exc.status_code == 400 and exc.__cause__ is not None:  # the body could not be parsed
            error = {"location": "body", "field": "", "code": "json_invalid", "message": MALFORMED_BODY}
            return invalid_response(api, request, [error])
        return api.create_response(request, {"detail": str(exc), "code": "HTTP_ERROR"}, status=exc.status_code)

    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(BusinessRuleError, on_business_rule)
    api.add_exception_handler(HttpError, on_http_error)
