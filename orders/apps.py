from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Commandes")

    def ready(self) -> None:
        import orders.deadline_store  # noqa: F401 (its signals: a programme's or solution's dates move its orders' deadlines)
        from orders.roles import ensure_staff_groups

        # Sent for every app; the groups need the permissions of clients and monitoring too, created by then.
        post_migrate.connect(ensure_staff_groups, dispatch_uid="orders.ensure_staff_groups")
