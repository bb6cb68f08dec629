"""Staff admin (French) for programmes, provider, solutions and orders, one module per page.

A thin adapter: every change goes through ``orders.services`` (``perform`` for transitions, ``order_create``,
``order_update_terms``, ``order_update_checklist``); rules and deadlines come from ``orders.rules``.
"""

from orders.admin import catalogue, order, records  # noqa: F401 (registers the admins)
