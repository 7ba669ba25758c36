"""The public surface: ``unisend.__all__`` and a light, fast ``import unisend``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import unisend
import unisend.transports

#: Every public name DESIGN.md lists as importable from ``unisend``.
DESIGN_NAMES = {
    "Message",
    "Address",
    "Attachment",
    "Mailer",
    "AsyncMailer",
    "RetryPolicy",
    "Failover",
    "RoundRobin",
    "SendResult",
    "Attempt",
    "from_url",
    "UnisendError",
    "InvalidMessage",
    "ConfigurationError",
    "SendError",
    "TransientError",
    "RateLimited",
    "ProviderError",
    "AuthenticationError",
    "MessageRejected",
    "AllRoutesFailed",
    "DKIM",
}

#: The transports DESIGN.md names in ``unisend.transports``.
DESIGN_TRANSPORTS = {
    "SMTPTransport",
    "SendGridTransport",
    "PostmarkTransport",
    "MailjetTransport",
    "BrevoTransport",
    "MailtrapTransport",
    "MemoryTransport",
    "ConsoleTransport",
    "SandboxTransport",
}

#: Packages that ``import unisend`` must not load (nor any ``unisend.transports.*`` module).
FORBIDDEN_PACKAGES = {"httpx", "pydantic", "django", "flask", "celery"}

REPO_ROOT = Path(unisend.__file__).resolve().parent.parent


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )


def test_all_is_sorted_and_unique() -> None:
    assert list(unisend.__all__) == sorted(set(unisend.__all__))
    assert list(unisend.transports.__all__) == sorted(set(unisend.transports.__all__))


def test_all_holds_every_design_name() -> None:
    missing = DESIGN_NAMES - set(unisend.__all__)
    assert not missing, f"missing from unisend.__all__: {sorted(missing)}"
    assert not DESIGN_TRANSPORTS - set(unisend.transports.__all__)


def test_every_design_name_is_importable() -> None:
    for name in sorted(DESIGN_NAMES):
        value = getattr(unisend, name)
        assert value is not None
        assert getattr(value, "__doc__", None), f"unisend.{name} has no docstring"


def test_every_name_in_all_resolves() -> None:
    for name in unisend.__all__:
        assert hasattr(unisend, name), name


def test_dir_lists_the_public_names() -> None:
    assert set(dir(unisend)) >= DESIGN_NAMES


def test_transports_this_issue_ships_are_importable() -> None:
    from unisend.transports import ConsoleTransport, MemoryTransport, SandboxTransport

    assert (MemoryTransport.default_name, ConsoleTransport.default_name) == ("memory", "console")
    assert SandboxTransport.default_name == "sandbox"


def test_import_unisend_loads_no_heavy_or_provider_module() -> None:
    code = "import sys, json, unisend; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(_python(code).stdout)
    assert "unisend" in loaded
    offenders = [
        name
        for name in loaded
        if name.split(".")[0] in FORBIDDEN_PACKAGES or name.startswith("unisend.transports.")
    ]
    assert offenders == []


def test_mailer_and_message_load_what_a_send_needs_and_build_the_schema_on_first_use() -> None:
    """``from unisend import Mailer, Message`` (what every user runs) leaves out what only
    some messages need (IDNA tables, MIME types, HTTP dates) and the pydantic schema build,
    which the first message pays for (benchmarks/RESULTS.md, import section)."""
    code = (
        "import sys, json; from unisend import Mailer, Message; before = sorted(sys.modules); "
        "built = [type(Message.__pydantic_validator__).__name__]; "
        "Message(sender='a@example.com', to='b@example.com', text='t'); "
        "built.append(type(Message.__pydantic_validator__).__name__); "
        "print(json.dumps([before, built]))"
    )
    loaded, built = json.loads(_python(code).stdout)
    lazy = {"idna", "mimetypes", "email.utils", "httpx", "asyncio", "logging", "tenacity"}
    assert sorted(lazy & set(loaded)) == []
    assert built == ["MockValSer", "SchemaValidator"]


def _best_of(code: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        _python(code)
        best = min(best, time.perf_counter() - started)
    return best


def test_import_unisend_is_fast() -> None:
    bare = _best_of("pass")
    with_unisend = _best_of("import unisend")
    # Loose on purpose: a test, not a benchmark.
    assert with_unisend - bare < 0.3, f"import unisend took {with_unisend - bare:.3f}s extra"
