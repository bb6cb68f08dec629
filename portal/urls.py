from django.urls import path, register_converter

from portal import views


class OrderNumberConverter:
    """An order number as the services write it (``Order.number``: at most 32 characters, no control character):
    anything else is not a page of the client space (404) and never reaches the database."""

    regex = r"[^/\x00-\x1f\x7f]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class AccessTokenConverter(OrderNumberConverter):
    """A link's token, or what is left of it after a bad copy (refused with an explanation, not a 404)."""

    regex = r"[^/\x00-\x1f\x7f]{1,200}"


register_converter(OrderNumberConverter, "portal_order_number")
register_converter(AccessTokenConverter, "portal_token")

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("acces/<portal_token:token>/", views.access, name="access"),
    path("connexion/", views.request_link, name="request_link"),
    path("deconnexion/", views.logout, name="logout"),
    path("commandes/<portal_order_number:number>/", views.order_detail, name="order"),
    path("commandes/<portal_order_number:number>/portabilite/", views.portability_request, name="portability"),
    path("commandes/<portal_order_number:number>/votre-avis/", views.satisfaction, name="satisfaction"),
    path("formations/", views.trainings, name="trainings"),
    path("documents/<int:document_id>/", views.document_download, name="document"),
    path("documents/<int:document_id>/apercu/", views.document_preview, name="document_preview"),
    path("documents/<int:document_id>/signer/", views.sign_document, name="sign"),
    path("documents/<int:document_id>/signer/code/", views.sign_code, name="sign_code"),
]
