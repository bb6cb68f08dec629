"""An uploaded file waiting for its confirmation: kept on the server (``SEGUR_IMPORT_PENDING_DIR``), never in the
session, under a random token, and given back only to the person who uploaded it, for one day at most.

A big file is checked and imported on the worker (issue 13): its ``status`` (stage, state, rows done, outcome) is
kept beside it, written by the worker (``pending_import_status_set``) and read by the progress page."""

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")


@dataclass(frozen=True)
class PendingImport:
    token: str
    path: Path  # the uploaded file, as received
    details: dict[str, Any]  # what the confirmation needs besides the file (version, file name…)
    status: dict[str, Any] = field(default_factory=dict)  # where the worker stands (``pending_import_status_set``)


def _directory() -> Path:
    directory = Path(settings.SEGUR_IMPORT_PENDING_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def pending_import_save(*, upload: Any, user_id: int, details: dict[str, Any]) -> PendingImport:
    """Copy the upload chunk by chunk to a file of its own; expired files of anyone are removed on the way."""
    _remove_expired()
    token = secrets.token_urlsafe(24)
    directory = _directory()
    path = directory / f"{token}.upload"
    with path.open("wb") as destination:
        for chunk in upload.chunks():
            destination.write(chunk)
    meta = {"user_id": user_id, "created": time.time(), "details": details}
    (directory / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return PendingImport(token=token, path=path, details=details)


def pending_import_get(*, token: str, user_id: int) -> PendingImport | None:
    """The pending import of this token if this user uploaded it and it has not expired; ``None`` otherwise."""
    if not TOKEN_PATTERN.match(token or ""):
        return None
    directory = _directory()
    try:
        meta = json.loads((directory / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = directory / f"{token}.upload"
    if meta.get("user_id") != user_id or _expired(meta) or not path.exists():
        return None
    return PendingImport(token=token, path=path, details=meta["details"], status=meta.get("status", {}))


def pending_import_status_set(token: str, status: dict[str, Any]) -> None:
    """Replace the status of a pending import; written to a new file then renamed, so a reader never sees half."""
    if not TOKEN_PATTERN.match(token or ""):
        return
    meta_path = _directory() / f"{token}.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # discarded or expired meanwhile: nobody waits for it any more
    meta["status"] = status
    draft = meta_path.parent / f"{token}.{secrets.token_hex(4)}.tmp"
    draft.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(draft, meta_path)


def pending_import_claim(token: str, step: str) -> bool:
    """True the first time only, for this token and step: two clicks on « Confirmer » queue one import."""
    if not TOKEN_PATTERN.match(token or "") or not step.isalnum():
        return False
    try:
        os.close(os.open(_directory() / f"{token}.{step}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def pending_import_discard(token: str) -> None:
    if not TOKEN_PATTERN.match(token or ""):
        return
    directory = _directory()
    for step_path in directory.glob(f"{token}.*"):
        if step_path.suffix not in (".upload", ".json"):
            step_path.unlink(missing_ok=True)
    for suffix in (".upload", ".json"):
        (directory / f"{token}{suffix}").unlink(missing_ok=True)


def _expired(meta: dict[str, Any]) -> bool:
    return time.time() - float(meta.get("created", 0)) > settings.SEGUR_IMPORT_PENDING_MAX_AGE_SECONDS


def _remove_expired() -> None:
    directory = _directory()
    for meta_path in directory.glob("*.json"):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if _expired(meta):
            pending_import_discard(meta_path.stem)
