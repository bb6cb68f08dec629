"""The Celery application: configuration from Django settings (``CELERY_*``), tasks found in every app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segur_portal.settings.local")

app = Celery("segur_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(related_name="import_tasks")  # big admin imports on the worker (orders.import_tasks)
