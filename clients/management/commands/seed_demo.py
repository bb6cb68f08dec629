"""Demo data so the product shows something true on its first start. Running it twice changes nothing."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "segur-demo-2026"  # noqa: S105 (demo login, printed on purpose; never in production)


class Command(BaseCommand):
    help = "Crée les données de démonstration (idempotent) et affiche l'identifiant administrateur."

    def handle(self, *args: object, **options: object) -> None:
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username=DEMO_ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(DEMO_ADMIN_PASSWORD)
            admin.save(update_fields=["password"])
        self.stdout.write(f"Admin: http://127.0.0.1:8000/admin/  login {DEMO_ADMIN_USERNAME} / {DEMO_ADMIN_PASSWORD}")
