import pytest
from django.contrib.auth.models import Group

from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP, ensure_staff_groups
from tests.factories import make_user


def custom_permissions(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return set(group.permissions.filter(content_type__model="order").values_list("codename", flat=True)) - {
        "view_order",
        "add_order",
        "change_order",
        "delete_order",
    }


@pytest.mark.django_db
def test_each_role_holds_the_transitions_of_its_job():
    assert custom_permissions(SALES_GROUP) == {"sign_order", "firm_order", "cancel_order", "record_termination"}
    assert custom_permissions(DEPLOYMENT_GROUP) == {"record_installation", "sign_pilot_pv", "sign_va"}
    assert custom_permissions(FINANCE_GROUP) == {
        "file_advance",
        "record_asp_decision",
        "file_balance",
        "file_secondary",
        "declare_failure",
        "record_reimbursement",
        "firm_order",
    }
    assert len(custom_permissions(ADMIN_GROUP)) == 13


@pytest.mark.django_db
def test_users_get_the_permissions_of_their_group():
    sales, finance = make_user("vente", SALES_GROUP), make_user("compta", FINANCE_GROUP)

    assert sales.has_perm("orders.sign_order") and not sales.has_perm("orders.file_advance")
    assert finance.has_perm("orders.file_advance") and not finance.has_perm("orders.sign_order")
    assert not sales.has_perm("orders.delete_order")


@pytest.mark.django_db
def test_ensuring_the_groups_twice_changes_nothing():
    before = {group.name: set(group.permissions.values_list("pk", flat=True)) for group in Group.objects.all()}

    ensure_staff_groups()
    ensure_staff_groups()

    after = {group.name: set(group.permissions.values_list("pk", flat=True)) for group in Group.objects.all()}
    assert after == before
