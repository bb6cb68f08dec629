#!/usr/bin/env bash
# Production start of one process (Procfile.production runs the three):
#   scripts/start_production.sh web      migrate, collect the static files, then serve with gunicorn
#   scripts/start_production.sh worker   the Celery worker
#   scripts/start_production.sh beat     the Celery beat scheduler (exactly one per deployment)
# The environment carries the configuration (README, "Production"); SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and
# CELERY_BROKER_URL are required.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-segur_portal.settings.production}"
PYTHON="${PYTHON:-python}"

case "${1:-web}" in
  web)
    "$PYTHON" manage.py migrate --noinput
    # The manifest storage serves hashed names only: without this step every page fails to render.
    "$PYTHON" manage.py collectstatic --noinput
    exec "$PYTHON" -m gunicorn -c segur_portal/gunicorn.conf.py
    ;;
  worker)
    exec "$PYTHON" -m celery -A segur_portal worker --loglevel="${LOG_LEVEL:-INFO}" \
      --concurrency="${CELERY_WORKER_CONCURRENCY:-2}"
    ;;
  beat)
    exec "$PYTHON" -m celery -A segur_portal beat --loglevel="${LOG_LEVEL:-INFO}"
    ;;
  *)
    echo "usage: $0 [web|worker|beat]" >&2
    exit 2
    ;;
esac
