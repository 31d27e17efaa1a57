"""The prediction log (one JSON line per scored record, whole lines under faults) and the
counters the service's workers share.
"""

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

from workbench import paths
from workbench.errors import WorkbenchError

MAX_BODY_BYTES = 1 << 20
DRAIN_BYTES = 16 << 20  # bodies up to this size are read and dropped before a 413
LOG_DIR = paths.PREDICTIONS_FOLDER


class PredictionLog:
    """Appends JSON Lines to one file per UTC day (see the module docstring)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._day = ""
        self._fd = -1
        self._torn = False

    def open(self) -> None:
        """Create the folder (with its ``.gitignore``) so a bad --log-dir fails at start, not per request."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# prediction logs: read by monitoring, kept out of git\n*\n", encoding="utf-8")
            self._reopen(datetime.now(UTC).strftime("%Y-%m-%d"))
        except OSError as exc:
            raise WorkbenchError(f"cannot write prediction logs to {self.folder} ({exc.strerror}): "
                                 "choose a writable --log-dir") from None

    @property
    def path(self) -> Path | None:
        return None if self.folder is None or not self._day else self.folder / f"predictions-{self._day}.jsonl"

    def _reopen(self, day: str) -> None:
        fd = os.open(self.folder / f"predictions-{day}.jsonl",  # type: ignore[operator]
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._day = fd, day

    def write(self, now: datetime, data: bytes) -> None:
        """Append ``data`` (whole lines) with one ``write``; raises OSError when it is not all written.

        A write cut short (a full disk) is cut off the file again, so the records of a refused
        request are not in the log; when another writer appended after it meanwhile, the
        fragment stays, and the next write starts with a newline, so the fragment is a line of
        its own that monitoring skips rather than the start of the next record.
        """
        if self.folder is None:
            return
        day = now.strftime("%Y-%m-%d")
        if day != self._day:
            self._reopen(day)
        if self._torn:
            data = b"\n" + data
        written = os.write(self._fd, data)
        if written < len(data):
            self._torn = not self._undo(written)
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: {written} of {len(data)} bytes written")
        self._torn = False

    def _undo(self, written: int) -> bool:
        """Cut the part of a short write off again when nothing was appended after it (True if so)."""
        try:
            end = os.lseek(self._fd, 0, os.SEEK_CUR)  # O_APPEND: the end of what was just written
            if os.fstat(self._fd).st_size != end:
                return False
            os.ftruncate(self._fd, end - written)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SharedState:
    """The live counters and the degraded reason of every worker of one service.

    In shared memory made before the workers are forked, so ``/metadata`` and ``/health``
    answer for the whole service whichever worker takes the request. Each worker adds to
    its own ``slot``; request numbers (the log's ``request``) come from one shared sequence.
    """

    KEYS = ("requests", "records", "rejected", "failed", "log_failures")

    def __init__(self, workers: int = 1) -> None:
        import multiprocessing

        self.workers = workers
        self.slot = 0
        self._counts = multiprocessing.RawArray("q", len(self.KEYS) * workers)
        self._sequence = multiprocessing.RawValue("q", 0)
        self._reason = multiprocessing.RawArray("c", 1024)
        self._lock = multiprocessing.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[self.slot * len(self.KEYS) + self.KEYS.index(key)] += n

    def next_request(self) -> int:
        with self._lock:
            self._sequence.value += 1
            return int(self._sequence.value)

    def scored(self, records: int) -> None:
        with self._lock:
            base = self.slot * len(self.KEYS)
            self._counts[base] += 1
            self._counts[base + 1] += records
            if self._reason[0] != b"\0":
                self._reason[0] = b"\0"

    def totals(self) -> dict[str, int]:
        with self._lock:
            counts = list(self._counts)
        k = len(self.KEYS)
        return {key: sum(counts[i::k]) for i, key in enumerate(self.KEYS)}

    @property
    def degraded(self) -> str | None:
        value = self._reason.value
        return value.decode("utf-8", "replace") if value else None

    def fail_log(self, reason: str) -> None:
        with self._lock:
            self._counts[self.slot * len(self.KEYS) + self.KEYS.index("log_failures")] += 1
            self._reason.value = reason.encode("utf-8")[:1023]
