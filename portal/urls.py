from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("acces/<str:token>/", views.access, name="access"),
    path("connexion/", views.request_link, name="request_link"),
    path("deconnexion/", views.logout, name="logout"),
    path("commandes/<str:number>/", views.order_detail, name="order"),
    path("documents/<int:document_id>/", views.document_download, name="document"),
]
