"""Spool fixtures: the same behaviour suite runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started by the tests: ``initdb`` into a temporary folder (as the
unprivileged ``postgres`` user when the tests run as root), ``pg_ctl start`` on a free
loopback port, removed afterwards. ``.ci/install`` installs Debian's ``postgresql``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from unisend import Spool


class Clock:
    """An injectable epoch clock."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL server on loopback; yields its base URL (no database path)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb) are not installed: .ci/install installs "
            "Debian's postgresql; the PostgreSQL spool tests did NOT run"
        )
    root = Path(tempfile.mkdtemp(prefix="unisend-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: hand the folder to the unprivileged postgres user.
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "unisend",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://unisend@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the private server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a spool lives: a SQLite file, or a database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "spool" / "spool.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_spool(location: str, clock: Clock) -> Iterator[Callable[..., Spool]]:
    """Open spools on ``location`` with the test clock; all closed afterwards."""
    opened: list[Spool] = []

    def make(**options: object) -> Spool:
        options.setdefault("clock", clock)
        spool = Spool(location, **options)  # type: ignore[arg-type]
        opened.append(spool)
        return spool

    yield make
    for spool in opened:
        spool.close()
