"""The VAT regime of an order form follows the client's département (AF §5.2, CGI art. 294); staff may choose
another one with a reason, written to the client's journal."""

from decimal import Decimal

import pytest
from django.urls import reverse

from clients import rules
from clients.models import ClientChange
from clients.services import client_update
from orders.exceptions import BusinessRuleError
from orders.models import OrderEvent
from tests.clients.test_clients_admin import DOCTOR_FORM
from tests.factories import make_doctor, make_order, make_provider, make_solution, make_structure, make_user


@pytest.mark.parametrize(
    ("postal_code", "finess", "departement", "regime"),
    [
        ("97100", "", "971", "vat_8_5"),  # Guadeloupe
        ("97200", "", "972", "vat_8_5"),  # Martinique
        ("97400", "", "974", "vat_8_5"),  # La Réunion
        ("97300", "", "973", "ht"),  # Guyane: VAT not applicable
        ("97600", "", "976", "ht"),  # Mayotte: VAT not applicable
        ("75008", "", "75", "vat_20"),
        ("20000", "", "20", "vat_20"),  # Corsica
        ("", "970100228", "971", "vat_8_5"),  # no postal code: the FINESS says it
        ("", "970302022", "973", "ht"),
        ("", "690000000", "69", "vat_20"),
        ("", "", "", "vat_20"),
    ],
)
def test_the_default_regime_follows_the_departement(postal_code, finess, departement, regime):
    assert rules.departement(postal_code=postal_code, finess=finess) == departement
    assert rules.default_vat_regime(departement) == regime


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("postal_code", "regime", "principal"),
    [
        ("97200", "vat_8_5", "408.23"),
        ("97300", "ht", "376.25"),
        ("97600", "ht", "376.25"),
        ("69002", "vat_20", "451.50"),
    ],
)
def test_an_order_takes_the_regime_and_the_ceiling_of_the_clients_departement(postal_code, regime, principal):
    """AF §5.3: the doctor's ceiling is 451,50 € TTC 20 %, 408,23 € TTC 8,5 %, 376,25 € HT."""
    order = make_order(client=make_doctor(postal_code=postal_code))

    assert (order.vat_regime, order.principal_amount) == (regime, Decimal(principal))
    event = OrderEvent.objects.get(order=order, action="create")
    assert event.payload["vat_regime_default"] == regime


@pytest.mark.django_db
def test_a_provider_not_liable_to_vat_sells_ht_everywhere():
    solution = make_solution(provider=make_provider(vat_regime="ht"))

    assert make_order(client=make_doctor(postal_code="97400"), solution=solution).vat_regime == "ht"


@pytest.mark.django_db
def test_another_regime_needs_a_reason_and_is_written_to_the_clients_journal():
    doctor = make_doctor(postal_code="97200")
    staff = make_user("compta")

    with pytest.raises(BusinessRuleError) as refused:
        client_update(client=doctor, acting_user=staff, vat_regime="vat_20")
    assert refused.value.codes == ["VAT_REGIME_REASON_MISSING"]
    assert "TVA 20 %" in refused.value.message and "TVA 8,5 % (DOM)" in refused.value.message
    assert "AF §5.2" in refused.value.message
    doctor.refresh_from_db()
    assert doctor.vat_regime == "" and not ClientChange.objects.filter(client=doctor).exists()

    client_update(
        client=doctor, acting_user=staff, vat_regime="vat_20", vat_regime_reason="Prestation facturée en métropole"
    )

    doctor.refresh_from_db()
    assert doctor.vat_regime_in_force == "vat_20" and doctor.portal_links_revoked_at is None
    journal = dict(ClientChange.objects.filter(client=doctor).values_list("field", "new_value"))
    assert journal == {"vat_regime": "vat_20", "vat_regime_reason": "Prestation facturée en métropole"}
    assert make_order(client=doctor).vat_regime == "vat_20"


@pytest.mark.django_db
def test_choosing_the_departements_own_regime_needs_no_reason():
    structure = make_structure(postal_code="97600")

    client_update(client=structure, vat_regime="ht")

    assert structure.vat_regime_in_force == "ht"


@pytest.mark.django_db
def test_an_unknown_regime_is_refused_on_its_field():
    with pytest.raises(BusinessRuleError) as refused:
        client_update(client=make_doctor(), vat_regime="vat_55", vat_regime_reason="x")

    assert refused.value.violations[0].field == "vat_regime"


@pytest.mark.django_db
def test_the_client_form_shows_the_departements_regime_and_asks_for_the_reason(client):
    client.force_login(make_user("root", is_superuser=True))
    doctor = make_doctor(postal_code="97100")
    url = reverse("admin:clients_client_change", args=[doctor.pk])
    form = {**DOCTOR_FORM, "rpps": doctor.rpps, "name": doctor.name, "postal_code": "97100"}

    page = client.get(url).content.decode()
    refused = client.post(url, {**form, "vat_regime": "ht"})
    saved = client.post(url, {**form, "vat_regime": "ht", "vat_regime_reason": "Fournisseur en franchise"})

    assert "TVA 8,5 % (DOM) (971)" in page
    assert "vat_regime_reason" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    doctor.refresh_from_db()
    assert (doctor.vat_regime, doctor.vat_regime_reason) == ("ht", "Fournisseur en franchise")


@pytest.mark.django_db
def test_the_demos_overseas_clients_get_their_departements_regime():
    from orders.demo import seed_demo
    from orders.models import Order

    seed_demo()

    regimes = {
        (order.client.postal_code.startswith("972"), order.vat_regime)
        for order in Order.objects.select_related("client")
    }
    assert regimes == {(True, "vat_8_5"), (False, "vat_20")}  # Fort-de-France (97200), Martinique: 8,5 %
