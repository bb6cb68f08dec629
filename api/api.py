"""The versioned JSON API (``/api/v1/``, issue #16): one NinjaAPI, its routers, its French error answers."""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from api import catalogue, clients, monitoring, orders
from api.auth import TokenAuth
from api.errors import FrenchJsonRenderer, StrictJsonParser, install_handlers

# The project's middleware answers a control character in the address with its French error page, before the API.
CONTROL_CHARACTER_RESPONSE = {
    "description": "Caractère de contrôle dans l'adresse : page d'erreur du site (HTML), avant l'API.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


class LocalSwagger(Swagger):
    """Swagger UI from our own static files (``static/vendor/swagger-ui``, swagger-ui-dist from npm): never a CDN."""

    template = "api/docs.html"

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        # "<" escaped: the settings sit in a <script type="application/json"> block.
        context = {"swagger_settings": json.dumps(settings).replace("<", "\\u003c"), "api": api}
        return render(request, self.template, context)


class SegurApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Every operation also documents the 400 of ``segur_portal.middleware.ControlCharacterMiddleware``."""
        document = super().get_openapi_schema(*args, **kwargs)
        for operations in document["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault(400, CONTROL_CHARACTER_RESPONSE)
        return document


api = SegurApi(
    title="Ségur — API du back-office",
    version="1",
    description=(
        "Clients, bons de commande, actions, plafonds, documents et monitoring, avec les mêmes règles que le "
        "back-office. Authentification : `Authorization: Bearer <jeton>` (jeton créé dans le back-office). "
        "Refus d'une règle : 409 avec la liste des violations ; données mal formées : 422 avec le champ."
    ),
    auth=TokenAuth(),
    parser=StrictJsonParser(),
    renderer=FrenchJsonRenderer(),
    docs=LocalSwagger(settings={"persistAuthorization": False, "deepLinking": True}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api-1",
)
install_handlers(api)
api.add_router("", clients.router)
api.add_router("", orders.router)
api.add_router("", catalogue.router)
api.add_router("", monitoring.router)
