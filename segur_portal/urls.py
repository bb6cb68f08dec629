from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from monitoring.views import deadline_calendar, deadline_calendar_csv, healthz
from orders.dashboard import admin_index

admin.site.site_header = "Ségur — back-office"
admin.site.site_title = "Ségur back-office"
admin.site.index_title = "Pilotage des commandes Ségur"
admin.site.index = admin_index(admin.site.index)  # the staff dashboard on the home page (orders.dashboard)

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/calendrier/", deadline_calendar, name="deadline_calendar"),
    path("admin/calendrier/export.csv", deadline_calendar_csv, name="deadline_calendar_csv"),
    path("admin/", admin.site.urls),
    path("espace-client/", include("portal.urls")),
    path("api/v1/", include("api.urls")),
]

# French error pages, with a link back to the back-office or the client space (segur_portal.errors).
handler400 = "segur_portal.errors.bad_request"
handler403 = "segur_portal.errors.permission_denied"
handler404 = "segur_portal.errors.page_not_found"
handler500 = "segur_portal.errors.server_error"
