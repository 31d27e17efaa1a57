"""Who may call the service: body content types, loopback Host and Origin checks, the token,
``--cors-origin`` values.
"""

import functools
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from workbench.errors import WorkbenchError

TOKEN_ENV = "MLOPS_WORKBENCH_TOKEN"
MIN_TOKEN_CHARS = 16


def body_kind(content_type: str | None) -> str | None:
    """``json``, ``csv``, or None for a Content-Type the service does not read (a 415).

    JSON is ``application/json`` or any ``+json`` type, CSV is ``text/csv``; nothing else,
    not even no Content-Type: ``text/plain``, the form type and a bare body are what a web
    page of another site can POST without the browser asking first.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    if media == "text/csv":
        return "csv"
    return None


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is this machine only: localhost, 127.0.0.0/8, ::1."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def loopback_host_header(value: bytes) -> bool:
    """Whether a ``Host`` header names this machine (a loopback name or address, any port)."""
    text = value.decode("latin-1").strip()
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ("x" if rest else "")
    else:
        name, _, port = text.partition(":")
    return (port == "" or port.isdigit()) and is_loopback(name)


@functools.lru_cache(maxsize=256)
def origin_allowed(value: bytes, extra: tuple[str, ...]) -> bool:
    """Whether a browser's ``Origin`` may call the service: a loopback origin or one of ``extra``."""
    from urllib.parse import urlsplit

    text = value.decode("latin-1").strip()
    if text.rstrip("/") in extra:
        return True
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and parts.hostname is not None and is_loopback(parts.hostname)
    except ValueError:
        return False


def read_token(token_file: Path | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token from ``--token-file`` (first) or ``$MLOPS_WORKBENCH_TOKEN``; None when neither is given."""
    environ = os.environ if environ is None else environ
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise WorkbenchError(f"cannot read the token file {token_file} ({reason}): give a file holding "
                                 "one token, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                                 ) from None
        where = f"the token file {token_file}"
    elif environ.get(TOKEN_ENV):
        token, where = environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        return None
    if len(token) < MIN_TOKEN_CHARS or not all(33 <= ord(c) < 127 for c in token):
        raise WorkbenchError(f"{where} holds no usable token: use at least {MIN_TOKEN_CHARS} printable ASCII "
                             "characters without spaces, e.g. from: "
                             "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return token


def check_origin(origin: str) -> str:
    """A ``--cors-origin`` value as browsers send it (scheme://host[:port]), or a one-line refusal."""
    from urllib.parse import urlsplit

    text = origin.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a port that is not a number
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not (
            parts.path or parts.query or parts.fragment or parts.username)
    except ValueError:
        ok = False
    if not ok:
        raise WorkbenchError(f"--cors-origin {origin!r} is not a web origin: give scheme://host[:port], "
                             "e.g. --cors-origin https://dashboard.example.com")
    return text


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
