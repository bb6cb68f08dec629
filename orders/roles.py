"""Staff roles (SPEC §1) as auth groups, each with the permissions of the transitions it may run.

Created after every ``migrate`` (post_migrate), idempotently, so a new permission reaches its role on deployment.
"""

from typing import Any

SALES_GROUP = "Commercial"
DEPLOYMENT_GROUP = "Déploiement"
FINANCE_GROUP = "Finance"
ADMIN_GROUP = "Administrateur"
ROLE_OF_GROUP = {SALES_GROUP: "sales", DEPLOYMENT_GROUP: "deployment", FINANCE_GROUP: "finance", ADMIN_GROUP: "admin"}

GROUP_PERMISSIONS: dict[str, set[str]] = {
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
        "portal.view_signatureevidence",  # the evidence of the client's online signature (issue #12)
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
        # Issue #12: deployment offers the training sessions (AF §3.2), reads the questionnaire after the VA and its
        # summary for the report to the ANS (AF §6.1), and the evidence of the pilot PV and VA signed online.
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
        "portal.view_trainingsession",  # finance reads the client space's records (issue #12)
        "portal.view_satisfactionanswer",
        "portal.view_signatureevidence",
    },
}
ADMIN_APPS = ("orders", "clients", "monitoring", "portal")


def ensure_staff_groups(**kwargs: Any) -> None:
    """Create or complete the four staff groups; never removes a permission an administrator added by hand."""
    from django.contrib.auth.models import Group, Permission

    for group_name, wanted in GROUP_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        permissions = []
        for dotted in sorted(wanted):
            app_label, codename = dotted.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                permissions.append(permission)
        group.permissions.add(*permissions)
    admin_group, _created = Group.objects.get_or_create(name=ADMIN_GROUP)
    admin_group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
