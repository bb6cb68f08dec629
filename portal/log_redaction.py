"""Client-space links never reach a log or a staff screen in clear.

A personal link opens a client's space to whoever holds it, so the token in ``/espace-client/acces/<token>/`` is
replaced in every log line by ``<jeton:HASH8>`` (the first 8 hex digits of its SHA-256: enough to match a line
with a support request, useless to open the space), and masked as ``…/espace-client/acces/•••`` where staff read
the e-mails we sent. This module imports nothing from Django apps: the logging configuration and gunicorn load it
before Django is set up.
"""

import hashlib
import logging
import re
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

ACCESS_PATH = "/espace-client/acces/"
# Anything up to the next path, query, fragment or text boundary: today's tokens and any older or altered one.
TOKEN_IN_TEXT = re.compile(re.escape(ACCESS_PATH) + r"([^/?#&\s\"'<>]+)")
LINK_IN_TEXT = re.compile(r"(?:https?://[^\s\"'<>/]+)?" + re.escape(ACCESS_PATH) + r"[^\s\"'<>]*")
MASKED_LINK = "…" + ACCESS_PATH + "•••"


def token_digest(token: str) -> str:
    """The short, one-way name of a token in logs and in the audit trail."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def redact(text: str) -> str:
    """``text`` with every client-space token replaced by ``<jeton:HASH8>``."""
    if ACCESS_PATH not in text:
        return text
    return TOKEN_IN_TEXT.sub(lambda match: f"{ACCESS_PATH}<jeton:{token_digest(match.group(1))}>", text)


def mask_links(text: str) -> str:
    """``text`` (an e-mail body) with every client-space link shown as ``…/espace-client/acces/•••``."""
    return LINK_IN_TEXT.sub(MASKED_LINK, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class PortalTokenFilter(logging.Filter):
    """Redacts client-space tokens in a record's message and arguments (runserver's ``django.server`` request line,
    ``django.request``'s "Forbidden: <path>", anything else that logs a URL); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        return True


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with the tokens taken out of the access log (request line, path, query, referer and every
    other header or environ atom) and out of the error log ("Error handling request <uri>")."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(PortalTokenFilter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        redacted_environ = {key: _redact_value(value) for key, value in environ.items()}
        headers = getattr(req, "headers", req)
        if hasattr(headers, "items"):
            headers = headers.items()
        redacted_req = SimpleNamespace(headers=[(name, _redact_value(value)) for name, value in headers])
        super().access(resp, redacted_req, redacted_environ, request_time)
