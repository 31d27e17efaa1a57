"""The shared-remote fields of ``new`` and ``remote set``: git remote, DVC remote, S3 endpoint
(and, in the sync view, the S3 credentials), checked at the field with the CLI's messages.

The check at the field is the core's own parse (``check_git_url`` / ``check_dvc_url`` with
``reach=False``: pure, no network), so a URL that does not parse is marked on leaving the field
with the exact line the CLI prints. Whether a remote can be *reached* is the core's business
when the form is sent, in a worker; :func:`field_of` tells which field such a one-line refusal
is about, so the form marks that field too. Nothing here writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Label

from workbench.errors import WorkbenchError

GIT_PLACEHOLDER = "optional: file:///srv/git/p.git, ssh://git@host/team/p.git"
DVC_PLACEHOLDER = "optional: a folder, s3://bucket/prefix, ssh://host/path"
ENDPOINT_PLACEHOLDER = "with s3:// only, e.g. http://127.0.0.1:8333"

#: The field names, in the order the form shows them.
FIELDS = ("git", "dvc", "endpoint", "key", "secret")


@dataclass(frozen=True)
class RemoteValues:
    """What the remote fields hold (None for an empty field)."""

    git: str | None
    dvc: str | None
    endpoint: str | None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class CoreCheck(Validator):
    """A field checked by a core function that raises the CLI's one-line :class:`WorkbenchError`."""

    def __init__(self, check: Callable[[str], object]) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success()
        try:
            self.check(value)
        except WorkbenchError as exc:
            return self.failure(str(exc))
        return self.success()


def check_git(value: str) -> None:
    from workbench.versioning.remote import check_git_url

    check_git_url(value, reach=False)


def check_dvc(value: str, endpoint: str | None = None) -> None:
    from workbench.versioning.remote import check_dvc_url

    check_dvc_url(value, endpoint or None, reach=False)


def check_endpoint(dvc: str, endpoint: str) -> None:
    if not dvc.strip():
        raise WorkbenchError("--dvc-endpoint needs --dvc-remote s3://bucket/prefix")
    check_dvc(dvc, endpoint)


class RemoteFields:
    """Label + field pairs for a two-column form grid, and the checks behind them.

    ``prefix`` makes the ids (``{prefix}-git``, ``{prefix}-dvc``, ...); ``credentials`` adds the
    S3 key fields (kept in ``.dvc/config.local`` by the core, never committed).
    """

    def __init__(self, owner: Widget, prefix: str, *, credentials: bool = False) -> None:
        self.owner, self.prefix, self.credentials = owner, prefix, credentials

    def id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def input(self, name: str) -> Input:
        return self.owner.query_one(f"#{self.id(name)}", Input)

    def compose(self, git: str = "", dvc: str = "", endpoint: str = "") -> Iterator[Widget]:
        """The pairs, to yield inside a ``Grid`` of two columns (label, field)."""
        checks: dict[str, Callable[[str], object]] = {
            "git": check_git,
            "dvc": check_dvc,
            "endpoint": lambda value: check_endpoint(self.input("dvc").value, value),
        }
        rows = [("git", "Git remote", git, GIT_PLACEHOLDER), ("dvc", "DVC remote", dvc, DVC_PLACEHOLDER),
                ("endpoint", "S3 endpoint", endpoint, ENDPOINT_PLACEHOLDER)]
        for name, label, value, placeholder in rows:
            yield Label(label)
            yield Input(value, placeholder=placeholder, id=self.id(name), compact=True,
                        validators=[CoreCheck(checks[name])], validate_on={"blur", "submitted"},
                        classes="remote-field")
        if self.credentials:
            yield Label("S3 access key")
            yield Input(placeholder="optional; kept in .dvc/config.local, never committed", id=self.id("key"),
                        compact=True, classes="remote-field")
            yield Label("S3 secret key")
            yield Input(placeholder="optional; kept in .dvc/config.local", id=self.id("secret"), password=True,
                        compact=True, classes="remote-field")

    def values(self) -> RemoteValues:
        def get(name: str) -> str | None:
            if name in ("key", "secret") and not self.credentials:
                return None
            return self.input(name).value.strip() or None

        return RemoteValues(get("git"), get("dvc"), get("endpoint"), get("key"), get("secret"))

    def first_invalid(self) -> tuple[str, str] | None:
        """(field, the CLI's one line) of the first field that does not parse, else None."""
        v = self.values()
        try:
            if v.git:
                check_git(v.git)
        except WorkbenchError as exc:
            return "git", str(exc)
        try:
            if v.dvc:
                check_dvc(v.dvc)
        except WorkbenchError as exc:
            return "dvc", str(exc)
        try:
            if v.endpoint:
                check_endpoint(v.dvc or "", v.endpoint)
        except WorkbenchError as exc:
            return "endpoint", str(exc)
        return None

    def mark(self, name: str, message: str) -> None:
        """Mark the field (red, the message as its tooltip) and put the focus on it; its value stays."""
        field = self.input(name)
        field.add_class("-invalid")
        field.tooltip = message
        field.focus()


def field_of(message: str) -> str | None:
    """Which remote field a core refusal is about (``new``'s and ``remote set``'s one lines), or None."""
    low = message.lower()
    if "s3 endpoint" in low or "endpoint" in low and "needs" in low:
        return "endpoint"
    if "access-key" in low or "secret" in low or "credentials" in low:
        return "key"
    if "git remote" in low:
        return "git"
    if "dvc remote" in low or "dvc-s3" in low or "s3://" in low:
        return "dvc"
    return None
