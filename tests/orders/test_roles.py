import pytest
from django.contrib.auth.models import Group, Permission

from orders.roles import (
    ADMIN_GROUP,
    DEPLOYMENT_GROUP,
    FINANCE_GROUP,
    ROLE_OF_GROUP,
    SALES_GROUP,
    ensure_staff_groups,
)
from tests.factories import make_user

STANDARD_ORDER_PERMISSIONS = {"view_order", "add_order", "change_order", "delete_order"}
# Typed again on purpose (not imported from orders.roles). Besides the permissions of each job, every role reads the
# order's event log (the inline of the order page), deployment records monitoring months and finance reads them.
EXPECTED_PERMISSIONS = {
    SALES_GROUP: {
        "orders.sign_order",
        "orders.firm_order",
        "orders.cancel_order",
        "orders.record_termination",
        "orders.view_order",
        "orders.add_order",
        "orders.change_order",
        "orders.change_order_terms",
        "clients.view_client",
        "clients.add_client",
        "clients.change_client",
        "clients.view_contactperson",
        "clients.add_contactperson",
        "clients.change_contactperson",
        "orders.view_programme",
        "orders.view_solution",
        "orders.view_priceceiling",
        "orders.view_orderevent",
        "portal.view_portalevent",
        "portal.view_portallink",
        "portal.view_signatureevidence",
    },
    DEPLOYMENT_GROUP: {
        "orders.record_installation",
        "orders.sign_pilot_pv",
        "orders.sign_va",
        "orders.view_order",
        "orders.change_order",
        "clients.view_client",
        "clients.view_contactperson",
        "orders.view_solution",
        "orders.view_orderevent",
        "monitoring.view_monitoringmonth",
        "monitoring.add_monitoringmonth",
        "portal.view_portalevent",
        "portal.view_portallink",
        "portal.view_trainingsession",
        "portal.add_trainingsession",
        "portal.change_trainingsession",
        "portal.view_satisfactionanswer",
        "portal.view_signatureevidence",
    },
    FINANCE_GROUP: {
        "orders.file_advance",
        "orders.record_asp_decision",
        "orders.file_balance",
        "orders.file_secondary",
        "orders.declare_failure",
        "orders.record_reimbursement",
        "orders.firm_order",
        "orders.view_order",
        "orders.change_order",
        "clients.view_client",
        "orders.view_programme",
        "orders.view_priceceiling",
        "orders.view_solution",
        "orders.view_provider",
        "orders.view_orderevent",
        "monitoring.view_monitoringmonth",
        "portal.view_portalevent",
        "portal.view_portallink",
        "portal.view_trainingsession",
        "portal.view_satisfactionanswer",
        "portal.view_signatureevidence",
    },
}


def permissions_of(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def custom_permissions(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    codenames = group.permissions.filter(content_type__app_label="orders", content_type__model="order")
    return set(codenames.values_list("codename", flat=True)) - STANDARD_ORDER_PERMISSIONS


def test_each_group_name_maps_to_its_role():
    assert ROLE_OF_GROUP == {
        "Commercial": "sales",
        "Déploiement": "deployment",
        "Finance": "finance",
        "Administrateur": "admin",
    }
    assert tuple(ROLE_OF_GROUP) == (SALES_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, ADMIN_GROUP)


@pytest.mark.django_db
def test_each_role_holds_the_transitions_of_its_job():
    assert custom_permissions(SALES_GROUP) == {
        "sign_order",
        "firm_order",
        "cancel_order",
        "record_termination",
        "change_order_terms",
    }
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
    assert len(custom_permissions(ADMIN_GROUP)) == 14


@pytest.mark.django_db
@pytest.mark.parametrize("group_name", [SALES_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP])
def test_each_staff_group_holds_exactly_its_permissions(group_name):
    assert permissions_of(group_name) == EXPECTED_PERMISSIONS[group_name]


@pytest.mark.django_db
def test_the_administrator_holds_every_permission_of_the_four_apps():
    every = Permission.objects.filter(content_type__app_label__in=("orders", "clients", "monitoring", "portal"))
    apps_of_every = set(every.values_list("content_type__app_label", flat=True))

    # monitoring and portal come after orders in INSTALLED_APPS: their permissions must reach the group all the same.
    assert apps_of_every == {"orders", "clients", "monitoring", "portal"}
    assert set(Group.objects.get(name=ADMIN_GROUP).permissions.all()) == set(every)


@pytest.mark.django_db
def test_users_get_the_permissions_of_their_group():
    sales, finance = make_user("vente", SALES_GROUP), make_user("compta", FINANCE_GROUP)
    deployment, admin = make_user("deploiement", DEPLOYMENT_GROUP), make_user("admin", ADMIN_GROUP)

    assert sales.has_perm("orders.sign_order") and not sales.has_perm("orders.file_advance")
    assert finance.has_perm("orders.file_advance") and not finance.has_perm("orders.sign_order")
    assert deployment.has_perm("orders.sign_va") and not deployment.has_perm("orders.file_balance")
    assert admin.has_perm("orders.file_advance") and admin.has_perm("monitoring.add_monitoringmonth")
    assert not sales.has_perm("orders.delete_order")


@pytest.mark.django_db
def test_ensuring_the_groups_twice_changes_nothing():
    def snapshot() -> dict[tuple[int, str], set[int]]:
        return {
            (group.pk, group.name): set(group.permissions.values_list("pk", flat=True)) for group in Group.objects.all()
        }

    before = snapshot()

    ensure_staff_groups()
    ensure_staff_groups()

    assert snapshot() == before
    assert {name for _pk, name in before} >= set(ROLE_OF_GROUP)
