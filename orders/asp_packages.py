"""ASP submission packages: kept importable here; the code lives in ``orders.documents.asp_packages``."""

from orders.documents.asp_packages import (  # noqa: F401
    MANIFEST,
    REFUSALS,
    REQUEST_SLUGS,
    REQUESTS,
    _manifest,
    form_data,
    monitoring_journal_csv,
    order_package_filename,
    package_filename,
    package_files,
    package_zip,
)
