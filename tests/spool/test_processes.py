"""The spool across processes: durability when killed, the CLI, several workers, a crash soak.

Workers are real ``unisend spool run`` processes sending to a real HTTP server on loopback
(``recorder.py``) that counts every message it accepted, so duplicates and losses show.
"""

from __future__ import annotations

import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from unisend import ConfigurationError, Message, Spool

from .recorder import Recorder, recording_server

PUT_AND_DIE = """
import os, signal, sys
from unisend import Message, Spool
spool = Spool(sys.argv[1])
entry = spool.put(Message(sender="a@example.com", to="b@example.com", subject="kept", text="x"))
print(entry.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def unisend_cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unisend", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,  # type: ignore[arg-type]
    )


def worker(location: str, url: str, *extra: str) -> subprocess.Popen[str]:
    """A ``unisend spool run`` process; its log (one line per delivery) goes to a temporary
    file, so a full pipe can never stall it."""
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed with the process)
    options = ["--poll", "0.05", "--lease", "1", "--schedule", "0.05", *extra]
    command = [sys.executable, "-m", "unisend", "spool", "--spool", location, "run"]
    proc = subprocess.Popen(
        [*command, "--url", url, *options], stdout=subprocess.PIPE, stderr=log, text=True
    )
    proc.log = log  # type: ignore[attr-defined]
    _WORKERS.append(proc)
    return proc


_WORKERS: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_worker_left_behind() -> Iterator[None]:
    """A failed test must not leave its worker processes running."""
    yield
    while _WORKERS:
        proc = _WORKERS.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_log(proc: subprocess.Popen[str], text: str, timeout: float = 30) -> str:
    """The worker's log once it contains ``text`` (or at the timeout)."""
    deadline = time.monotonic() + timeout
    log = proc.log  # type: ignore[attr-defined]
    while True:
        log.seek(0)
        content: str = log.read()
        if text in content or time.monotonic() > deadline:
            return content
        time.sleep(0.05)


def sendgrid_url(recorder: Recorder) -> str:
    # The router's own retry: one try per pass, no backoff (the spool's schedule retries).
    return f"failover(sendgrid://key@default?base_url={recorder.url})?attempts=1&backoff=0"


def messages(count: int) -> list[Message]:
    return [
        Message(sender="shop@example.com", to="bob@example.com", subject=f"m{i}", text="hi")
        for i in range(count)
    ]


def test_put_survives_a_killed_process(location: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PUT_AND_DIE, location], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    entry_id = done.stdout.strip()
    with Spool(location) as spool:
        entry = spool.get(entry_id)
        assert entry is not None and entry.message.subject == "kept"


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    location = tmp_path / "private" / "spool.sqlite3"
    with Spool(location) as spool:
        spool.put(Message(sender="a@example.com", to="b@example.com", subject="s", text="t"))
    assert stat.S_IMODE(location.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(location.stat().st_mode) == 0o600


def test_corrupted_or_unusable_file_is_a_clear_error(tmp_path: Path) -> None:
    corrupted = tmp_path / "corrupted.sqlite3"
    corrupted.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigurationError, match=r"corrupted\.sqlite3 is not a usable"):
        Spool(corrupted)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match=r"cannot open the spool file .*a-file"):
        Spool(blocker / "spool.sqlite3")


def test_postgresql_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'unisend\[postgres\]'"):
        Spool("postgresql://user:pw@127.0.0.1:1/db")


def test_postgresql_errors_hide_the_password(postgres_server: str) -> None:
    url = postgres_server.replace("unisend@", "unisend:hunter2-secret@") + "/no_such_db"
    with pytest.raises(ConfigurationError) as raised:
        Spool(url)
    assert "hunter2-secret" not in str(raised.value)
    assert "no_such_db" in str(raised.value)


def test_cli_list_show_retry_purge_and_run_once(location: str) -> None:
    with Spool(location) as spool:
        first = spool.put(messages(1)[0], key="order-1")
    listed = unisend_cli("spool", "--spool", location, "list")
    assert listed.returncode == 0, listed.stderr
    assert first.id in listed.stdout and "queued" in listed.stdout
    shown = unisend_cli("spool", "--spool", location, "show", first.id)
    assert (
        shown.returncode == 0 and "order-1" in shown.stdout and "subject:      m0" in shown.stdout
    )
    missing = unisend_cli("spool", "--spool", location, "show", "nope")
    assert missing.returncode == 2 and missing.stderr.startswith("error: ConfigurationError")
    ran = unisend_cli("spool", "--spool", location, "run", "--once", "--url", "memory://")
    assert ran.returncode == 0, ran.stderr
    assert "sent 1, deferred 0, failed 0" in ran.stdout
    assert f"spool entry {first.id} sent via memory" in ran.stderr
    assert "bob@example.com" not in ran.stderr  # no addresses in the worker's log
    assert unisend_cli("spool", "--spool", location, "retry", first.id).returncode == 2
    purged = unisend_cli("spool", "--spool", location, "purge", "--older-than", "0s")
    assert purged.returncode == 0 and purged.stdout.startswith("1 sent entries purged")
    bad = unisend_cli("spool", "--spool", location, "purge", "--older-than", "7 weeks")
    assert bad.returncode == 2 and "is not a duration" in bad.stderr
    no_route = unisend_cli("spool", "--spool", location, "run", "--once")
    assert no_route.returncode == 2 and "--url or set UNISEND_URL" in no_route.stderr


def test_cli_retry_failed(location: str) -> None:
    with recording_server(fault_rate=0.0) as recorder, Spool(location) as spool:
        spool.put(messages(1)[0])
        # A 400 from SendGrid rejects the message: the entry fails at once.
        url = f"sendgrid://key@default?base_url={recorder.url}/rejects"
        ran = unisend_cli("spool", "--spool", location, "run", "--once", "--url", url)
        assert "failed 1" in ran.stdout, ran.stderr
        assert spool.counts()["failed"] == 1
        again = unisend_cli("spool", "--spool", location, "retry", "--failed")
        assert again.returncode == 0 and again.stdout.startswith("1 failed entries queued")
        assert spool.counts()["queued"] == 1


def test_sigterm_stops_the_worker_cleanly(location: str) -> None:
    with recording_server() as recorder:
        proc = worker(location, sendgrid_url(recorder))
        started = wait_for_log(proc, "spool worker started")
        assert "spool worker started" in started and "key@" not in started
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, wait_for_log(proc, "")
    assert "sent 0, deferred 0, failed 0" in out


def _drain(location: str, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with Spool(location) as spool:
        while True:
            counts = spool.counts()
            if counts["queued"] == counts["sending"] == 0:
                return
            if time.monotonic() > deadline:
                stuck = [e for e in spool.entries(limit=10_000) if e.state in ("queued", "sending")]
                details = [(e.id, e.state, e.attempts, e.next_attempt_at, e.history) for e in stuck]
                raise AssertionError(f"spool did not drain: {counts}: {details[:3]}")
            ran = unisend_cli(
                "spool",
                "--spool",
                location,
                "run",
                "--once",
                "--url",
                url,
                "--lease",
                "1",
                "--schedule",
                "0.05",
            )
            assert ran.returncode == 0, ran.stderr
            time.sleep(0.2)


def test_two_workers_send_each_message_once(location: str) -> None:
    with recording_server() as recorder:
        with Spool(location) as spool:
            spool.put_many(messages(300))
        procs = [worker(location, sendgrid_url(recorder)) for _ in range(2)]
        deadline = time.monotonic() + 60
        with Spool(location) as spool:
            while spool.counts()["sent"] < 300 and time.monotonic() < deadline:
                time.sleep(0.1)
            counts = spool.counts()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30) for proc in procs]
    assert counts["sent"] == 300
    assert sorted(recorder.accepted) == sorted(f"m{i}" for i in range(300))
    assert set(recorder.accepted.values()) == {1}  # exactly once
    sent_by = [int(out.split("sent ")[1].split(",")[0]) for out, _err in outputs]
    assert sum(sent_by) == 300 and all(sent_by), sent_by  # both workers took a share


@pytest.mark.timeout(300)
def test_crash_soak(location: str) -> None:
    """2,000 entries, routes with 30 % faults, a worker SIGKILLed at random 10 times and
    restarted: nothing is lost, and only what was in flight at a kill can be sent twice."""
    crash_soak(location, size=2000, kills=10)


@pytest.mark.soak_long
@pytest.mark.timeout(1800)
def test_crash_soak_long(location: str) -> None:
    """The long version (``pytest -m soak_long``): 10,000 entries, 40 kills."""
    crash_soak(location, size=10_000, kills=40)


def crash_soak(location: str, *, size: int, kills: int) -> None:
    soak_size = size
    rng = random.Random(11)
    with recording_server(fault_rate=0.3, seed=5) as recorder:
        url = sendgrid_url(recorder)
        with Spool(location) as spool:
            spool.put_many(messages(soak_size))
        for _ in range(kills):
            proc = worker(location, url)
            time.sleep(rng.uniform(0.3, 0.9))
            proc.kill()
            proc.communicate(timeout=30)
        time.sleep(1.1)  # the last killed worker's lease runs out
        _drain(location, url, timeout=30 + size / 20)
        with Spool(location) as spool:
            counts = spool.counts()
            ambiguous = sum(
                1
                for entry in spool.entries("sent", limit=soak_size)
                for record in entry.history
                if record.get("outcome") == "ambiguous"
            )
    assert counts["sent"] + counts["failed"] == soak_size, counts
    assert counts["failed"] == 0  # 503s are transient: everything ends sent
    assert len(recorder.accepted) == soak_size  # nothing lost
    duplicates = sum(count - 1 for count in recorder.accepted.values())
    assert duplicates <= kills, (duplicates, recorder.accepted.most_common(3))
    assert ambiguous <= kills
    assert recorder.faults > soak_size * 0.2  # the faults really happened
