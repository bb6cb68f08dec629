"""docs/api_walkthrough.sh runs against a live test server: a full order life through the API with curl."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from orders.models import Order
from tests.api.conftest import make_token
from tests.factories import make_solution, make_user, valid_rpps

SCRIPT = Path(settings.BASE_DIR) / "docs" / "api_walkthrough.sh"


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_the_walkthrough_script_runs_a_full_order_life(live_server, programme_data, frozen_today):
    solution = make_solution()
    rpps = valid_rpps()
    token = make_token(user=make_user("crm", "Administrateur"))
    environment = {
        **os.environ,
        "SEGUR_URL": live_server.url,
        "SEGUR_TOKEN": token,
        "SOLUTION_ID": str(solution.pk),
        "RPPS": rpps,
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    order = Order.objects.get(client__rpps=rpps)
    assert order.state == "balance_paid"
    assert order.monitoring_months.count() == 1
    perf = json.loads(result.stdout)
    assert perf["order"] == order.number and perf["months"][0]["dt"] == 120
    assert "rien ne change" in result.stderr and '"unchanged": ["2026-10-01"]' in result.stderr
