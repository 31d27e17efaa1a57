"""Shared remotes: the git remote ``origin`` and the project's default DVC remote.

``new --git-remote URL --dvc-remote URL [--dvc-endpoint URL]`` and ``remote set`` check every
URL before anything is written: a URL that does not parse, or a remote that cannot be
reached, is one line (exit 2) and nothing changes. The DVC remote's settings that are not
secret (URL, endpoint) are one commit of ``.dvc/config``; credentials never enter git: they go
to ``.dvc/config.local`` (git-ignored, through ``dvc remote modify --local``) or stay in the
environment (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``), and the command says which.
"""

from __future__ import annotations

import configparser
import os
import re
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.versioning import dvc, git

DVC_REMOTE_NAME = "shared"
GIT_REMOTE_NAME = "origin"
#: URL schemes ``dvc remote add`` understands (plus plain folders).
DVC_SCHEMES = ("s3", "gs", "azure", "ssh", "hdfs", "webhdfs", "http", "https", "webdav", "webdavs",
               "oss", "gdrive", "file")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:[^\s]+$")
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class Remotes:
    """The project's shared remotes as configured now (no secret in here)."""

    git_url: str | None
    dvc_name: str | None
    dvc_url: str | None
    dvc_endpoint: str | None
    credentials: str  # where the DVC credentials come from, one phrase
    messages: tuple[str, ...] = field(default_factory=tuple)
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": 1, "git": {"name": GIT_REMOTE_NAME, "url": self.git_url},
                "dvc": {"name": self.dvc_name, "url": self.dvc_url, "endpoint": self.dvc_endpoint,
                        "credentials": self.credentials},
                "commit": self.commit, "messages": list(self.messages)}


# --- checks (nothing written) -------------------------------------------------------------


def check_git_url(url: str, *, reach: bool = True) -> str:
    """``url`` if it parses as a git remote and answers ``git ls-remote``; else a one-line error."""
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    ok = False
    if parts.scheme in ("file",):
        ok = bool(parts.path)
    elif parts.scheme in ("ssh", "git", "http", "https"):
        ok = bool(parts.netloc) and bool(parts.path.strip("/"))
    elif not parts.scheme and url:
        ok = bool(_SCP_LIKE.match(url)) or Path(url).expanduser().is_absolute()
    if not ok or any(c.isspace() for c in url):
        raise WorkbenchError(
            f"the git remote URL {url!r} does not parse: give e.g. file:///srv/git/project.git, "
            "ssh://git@host/team/project.git, https://host/team/project.git or git@host:team/project.git")
    if reach:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
               "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=10")}
        try:
            done = subprocess.run(["git", "ls-remote", "--heads", url], capture_output=True, text=True,
                                  env=env, timeout=60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise WorkbenchError(f"the git remote {url} did not answer within 60 s: check the URL and the network") from None
        if done.returncode != 0:
            lines = [ln.strip() for ln in (done.stderr or "").splitlines() if ln.strip()]
            detail = next((ln for ln in lines if ln.startswith("fatal:")), lines[0] if lines else "")
            detail = detail.removeprefix("fatal:").strip()
            raise WorkbenchError(
                f"the git remote {url} cannot be reached ({detail or 'git ls-remote failed'}): check the URL "
                "and your access (for a new shared repository: git init --bare on the server first)")
    return url


def check_dvc_url(url: str, endpoint: str | None = None, *, reach: bool = True) -> tuple[str, str | None]:
    """(url, endpoint) if they parse and the store answers; else a one-line error. Folders are
    returned absolute."""
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if not url or any(c.isspace() for c in url):
        raise WorkbenchError(f"the DVC remote URL {url!r} does not parse: give a folder, s3://bucket/prefix, "
                             "ssh://host/path, gs://bucket/path or another URL 'dvc remote add' takes")
    if scheme and len(scheme) > 1 and scheme not in DVC_SCHEMES:
        raise WorkbenchError(f"the DVC remote URL {url!r} has a scheme DVC does not know ({scheme}://): use "
                             f"one of {', '.join(s + '://' for s in DVC_SCHEMES)} or a folder")
    if scheme in ("s3", "gs", "azure", "oss", "ssh", "hdfs", "webhdfs", "http", "https", "webdav", "webdavs") \
            and not parts.netloc:
        raise WorkbenchError(f"the DVC remote URL {url!r} does not parse: {scheme}:// needs a "
                             f"{'bucket' if scheme in ('s3', 'gs', 'oss') else 'host'}, e.g. {scheme}://name/prefix")
    if endpoint and scheme != "s3":
        raise WorkbenchError(f"--endpoint is for s3:// remotes (S3-compatible stores); {url} is not one")
    if scheme == "s3":
        import importlib.util

        if importlib.util.find_spec("dvc_s3") is None:
            raise WorkbenchError("an s3:// DVC remote needs the dvc-s3 package: pip install dvc-s3")
    if endpoint:
        endpoint = endpoint.strip()
        ep = urllib.parse.urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise WorkbenchError(f"the S3 endpoint {endpoint!r} does not parse: give e.g. http://127.0.0.1:8333 "
                                 "or https://s3.example.com")
        if reach:
            port = ep.port or (443 if ep.scheme == "https" else 80)
            try:
                socket.create_connection((ep.hostname, port), timeout=5).close()
            except OSError as exc:
                raise WorkbenchError(f"the S3 endpoint {endpoint} cannot be reached ({exc.strerror or exc}): "
                                     "is the store running? check --endpoint") from None
    if not scheme or len(scheme) == 1 or scheme == "file":  # a folder (a Windows drive letter too)
        folder = Path(parts.path if scheme == "file" else url).expanduser().absolute()
        if folder.exists() and not folder.is_dir():
            raise WorkbenchError(f"the DVC remote {folder} is a file: give a folder")
        if reach and not folder.exists() and not folder.parent.is_dir():
            raise WorkbenchError(f"the DVC remote folder {folder} cannot be reached: its parent folder "
                                 f"{folder.parent} does not exist")
        url = str(folder)
    return url, endpoint or None


# --- reading ------------------------------------------------------------------------------


def _dvc_config(path: Path, local: bool = True) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    files = [path / ".dvc" / "config"] + ([path / ".dvc" / "config.local"] if local else [])
    parser.read(files, encoding="utf-8")
    return parser


def _section(parser: configparser.ConfigParser, name: str) -> configparser.SectionProxy | None:
    for candidate in (f"'remote \"{name}\"'", f'remote "{name}"'):
        if parser.has_section(candidate):
            return parser[candidate]
    return None


def git_remote_url(root: Path) -> str | None:
    return git.run_git(root, "remote", "get-url", GIT_REMOTE_NAME, check=False) or None


def credentials_source(path: Path, name: str | None = None) -> str:
    """Where DVC finds the default remote's credentials, as a phrase (never the secret)."""
    path = Path(path)
    name = name or _dvc_config(path).get("core", "remote", fallback=None)
    local = _dvc_config(path, local=False)
    committed = _section(local, name) if name else None
    if committed is not None and any(k in committed for k in ("access_key_id", "secret_access_key", "password")):
        return "in .dvc/config (committed!): move them with 'mlops-workbench remote set --access-key-id ...'"
    only_local = configparser.ConfigParser(interpolation=None)
    only_local.read([path / ".dvc" / "config.local"], encoding="utf-8")
    sec = _section(only_local, name) if name else None
    if sec is not None and "access_key_id" in sec:
        return ".dvc/config.local (git-ignored, this machine only)"
    if all(os.environ.get(k) for k in CREDENTIAL_ENV):
        return "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
    return "none set (DVC's defaults: ~/.aws/credentials or the environment)"


def read_remotes(path: str | Path) -> Remotes:
    path = Path(path).absolute()
    root = git.repo_root(path) or path
    parser = _dvc_config(path)
    name = parser.get("core", "remote", fallback=None)
    sec = _section(parser, name) if name else None
    url = dvc.default_remote(path)
    endpoint = sec.get("endpointurl") if sec is not None else None
    return Remotes(git_url=git_remote_url(root), dvc_name=name, dvc_url=url, dvc_endpoint=endpoint,
                   credentials=credentials_source(path, name) if url and url.startswith("s3://") else
                   "not needed" if url and "://" not in url else credentials_source(path, name))


# --- writing ------------------------------------------------------------------------------


def write_dvc_remote(path: Path, url: str, endpoint: str | None) -> None:
    """``dvc remote add --default --force shared URL`` (+ its endpoint): ``.dvc/config`` only."""
    dvc.add_remote(path, DVC_REMOTE_NAME, url)
    if endpoint:
        dvc.run_dvc(["remote", "modify", DVC_REMOTE_NAME, "endpointurl", endpoint], path)


def set_git_remote(root: Path, url: str) -> None:
    if git_remote_url(root) is None:
        git.run_git(root, "remote", "add", GIT_REMOTE_NAME, url)
    else:
        git.run_git(root, "remote", "set-url", GIT_REMOTE_NAME, url)


def store_credentials(path: Path, access_key_id: str | None, secret_access_key: str | None) -> str:
    """Put S3 credentials in ``.dvc/config.local`` (``dvc remote modify --local``); say where they went."""
    if access_key_id or secret_access_key:
        if not (access_key_id and secret_access_key):
            raise WorkbenchError("give both --access-key-id and --secret-access-key (or neither, and set "
                                 "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment)")
        dvc.run_dvc(["remote", "modify", "--local", DVC_REMOTE_NAME, "access_key_id", access_key_id], path)
        dvc.run_dvc(["remote", "modify", "--local", DVC_REMOTE_NAME, "secret_access_key", secret_access_key], path)
        return "credentials went to .dvc/config.local (git-ignored, this machine only; never committed)"
    if all(os.environ.get(k) for k in CREDENTIAL_ENV):
        return ("credentials: none stored; DVC reads them from the environment "
                "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
    return ("credentials: none stored; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "
            "'mlops-workbench remote set --access-key-id ... --secret-access-key ...' (kept in .dvc/config.local)")


def set_remotes(
    path: str | Path,
    *,
    git_url: str | None = None,
    dvc_url: str | None = None,
    endpoint: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    role: str | None = None,
) -> Remotes:
    """Point the project at shared remotes as one step (see the module docstring)."""
    from workbench.versioning.step import begin_step

    path = Path(path).absolute()
    if not (path / ".dvc").is_dir():
        raise WorkbenchError(f"{path} is not a workbench project (no .dvc folder): run 'mlops-workbench new' first")
    if not (git_url or dvc_url or endpoint or access_key_id or secret_access_key):
        raise WorkbenchError("nothing to set: give --git URL, --dvc URL, --endpoint URL or credentials")
    root = git.repo_root(path)
    if root is None:
        raise WorkbenchError(f"{path} is not inside a git repository")
    if bool(access_key_id) != bool(secret_access_key):
        raise WorkbenchError("give both --access-key-id and --secret-access-key (or neither, and set "
                             "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment)")
    current = read_remotes(path)
    if endpoint and not dvc_url:
        dvc_url = current.dvc_url
        if not dvc_url:
            raise WorkbenchError("--endpoint needs an s3:// DVC remote: give --dvc s3://bucket/prefix too")
    if git_url:
        git_url = check_git_url(git_url)
    if dvc_url:
        dvc_url, endpoint = check_dvc_url(dvc_url, endpoint)
        if not dvc_url.startswith(("s3:", "gs:", "azure:", "ssh:", "http", "webdav", "oss:", "hdfs", "webhdfs",
                                   "gdrive:")):
            folder = Path(dvc_url)
            if folder == path or path in folder.parents:
                raise WorkbenchError("the DVC remote must be outside the project folder: choose another --dvc")
    if (access_key_id or secret_access_key) and not (dvc_url or current.dvc_url or "").startswith("s3://"):
        raise WorkbenchError("--access-key-id and --secret-access-key are for s3:// DVC remotes")
    messages: list[str] = []
    commit = None
    if dvc_url:
        changes = [f"DVC remote {dvc_url}"] + ([f"endpoint {endpoint}"] if endpoint else [])
        with begin_step(path, "project", paths=[".dvc/config"], role=role, push=False,
                        summary="shared remotes: " + ", ".join(changes)) as step:
            step.protect(".dvc/config")
            if "://" not in dvc_url:
                Path(dvc_url).mkdir(parents=True, exist_ok=True)
            write_dvc_remote(path, dvc_url, endpoint)
            step.include(".dvc/config")
        commit = step.commit
        messages += step.messages
        messages.append(f"DVC remote '{DVC_REMOTE_NAME}' -> {dvc_url}" + (f" (endpoint {endpoint})" if endpoint else "")
                        + (f", committed in .dvc/config ({commit[:7]})" if commit else " (already set)"))
    if git_url:
        set_git_remote(root, git_url)
        messages.append(f"git remote '{GIT_REMOTE_NAME}' -> {git_url} (in .git/config, not versioned)")
    if (dvc_url or current.dvc_url or "").startswith("s3://"):
        messages.append(store_credentials(path, access_key_id, secret_access_key))
    done = read_remotes(path)
    return Remotes(git_url=done.git_url, dvc_name=done.dvc_name, dvc_url=done.dvc_url,
                   dvc_endpoint=done.dvc_endpoint, credentials=done.credentials, messages=tuple(messages),
                   commit=commit)


def s3_error_line(text: str, remotes: Remotes | None = None) -> str | None:
    """DVC's S3 credential/endpoint failure turned into one line naming the setting to fix; None otherwise."""
    low = text.lower()
    where = f" for {remotes.dvc_url}" + (f" at {remotes.dvc_endpoint}" if remotes and remotes.dvc_endpoint else "") \
        if remotes and remotes.dvc_url else ""
    if any(k in low for k in ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "access denied",
                              "forbidden", "403", "unable to locate credentials", "nocredentials",
                              "invalid access key")):
        return (f"the S3 store refused the credentials{where}: fix access_key_id / secret_access_key with "
                "'mlops-workbench remote set --access-key-id KEY --secret-access-key SECRET' (kept in "
                ".dvc/config.local) or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment")
    if "nosuchbucket" in low or "bucket does not exist" in low:
        return (f"the S3 bucket{where} does not exist: create it, or fix the URL with "
                "'mlops-workbench remote set --dvc s3://BUCKET/prefix'")
    if any(k in low for k in ("could not connect to the endpoint", "connection refused", "cannot connect",
                              "connect timeout", "endpointconnectionerror", "name or service not known")):
        return (f"the DVC remote{where} cannot be reached: is the store running? (endpointurl in .dvc/config; "
                "'mlops-workbench remote set --endpoint URL'); run sync again when it is")
    return None
