"""Every code block in README.md and docs/**/*.md runs, or says why it does not.

- ``python`` blocks run in order, one namespace per page (a page reads like a notebook:
  later blocks use what earlier ones defined); top-level ``await`` is allowed. A block that
  defines ``test_*`` functions has them called, their arguments taken from ``FIXTURES``.
- ``pycon`` blocks run through doctest, in the same namespace.
- In ``console`` blocks, ``$ unisend check-url '...'`` commands run and their output is
  compared with the line under them. Other shell, text and data blocks (``sh``,
  ``console``, ``text``, ``json``...) are not run; they are counted and listed as not run.
- A block that cannot run says so in the Markdown, on the line right before it:
  ``<!-- not-run: why -->``. Two more directives set up the next blocks:
  ``<!-- env: NAME=value -->`` (an environment variable for the rest of the page) and
  ``<!-- file: name.py -->`` (the block is written to that file in the working folder, which is
  on the import path, instead of being run).
- Pages whose blocks another test runs are in ``COVERED_ELSEWHERE``.

Each page's test prints what ran and lists every block it did not run, with the reason:
``pytest tests/test_docs.py -rP`` (or ``-s``) shows them.

The examples name real hosts (``smtp.example.com``, ``api.sendgrid.com``...): while a page
runs, name resolution sends each of them to a loopback stand-in started here (aiosmtpd with
STARTTLS, implicit TLS and AUTH; the project's HTTP test server with TLS), whose certificates
name those hosts and whose CAs are the trust store (``SSL_CERT_FILE``). Any other host does
not resolve, so nothing leaves the machine. Mail sent without a URL lands in a sandbox file
in the page's own temporary working folder.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import importlib.util
import inspect
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers.http import HttpStub, start_stub
from servers.smtp import SMTPServer, TestCA

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Pages whose code blocks another test runs, and that test.
COVERED_ELSEWHERE = {
    "docs/doctor.md": "tests/doctor/test_doctor_docs.py",
    "docs/webhooks.md": "tests/contrib/test_webhooks_docs.py",
}

#: Fence languages run as Python, through doctest, or only counted.
PYTHON = {"python", "py"}
PYCON = {"pycon"}
SHELL = {"sh", "bash", "console", "shell", "zsh"}

#: Hosts the examples use, and the loopback stand-in each (host, port) goes to.
SMTP_HOSTS = ("smtp.example.com", "backup.example.com", "mail.example.com")
HTTP_HOSTS = (
    "api.sendgrid.com",
    "api.eu.sendgrid.com",
    "api.postmarkapp.com",
    "api.mailjet.com",
    "api.brevo.com",
    "send.api.mailtrap.io",
    "bulk.api.mailtrap.io",
    "sandbox.api.mailtrap.io",
)


def _load_include_hook() -> Any:
    spec = importlib.util.spec_from_file_location(
        "mkdocs_include", ROOT / "tools/mkdocs_include.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INCLUDE = _load_include_hook()


# ------------------------------------------------------------------ reading the pages


@dataclass
class Block:
    """One fenced code block and the directives right before it."""

    page: str
    line: int
    lang: str
    code: str
    not_run: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    file: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)[^\n]*$")
_DIRECTIVE = re.compile(r"^\s*<!-- (?P<name>not-run|env|file): (?P<value>.+?) -->\s*$")


def parse(page: str, text: str) -> list[Block]:
    """The fenced blocks of ``text`` (include markers expanded, as the site shows them)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        block = Block(page, index + 1, opening["lang"].lower(), "\n".join(body) + "\n")
        above = index - 1
        while above >= 0 and (directive := _DIRECTIVE.match(lines[above])):
            name, value = directive["name"], directive["value"]
            if name == "not-run":
                block.not_run = value
            elif name == "env":
                key, _, setting = value.partition("=")
                block.env += ((key.strip(), setting.strip()),)
            else:
                block.file = value
            above -= 1
        blocks.append(block)
        index = end + 1
    return blocks


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def page_blocks(path: Path) -> list[Block]:
    """The page's own blocks, then those of the files it includes, marked not-run: an
    included file is not a docs page (README.md is run on its own; the changelog and the
    benchmark report quote code rather than teach it)."""
    relative = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    blocks = parse(relative, INCLUDE.MARKER.sub("", text))
    for marker in INCLUDE.MARKER.finditer(text):
        included = marker["path"]
        for block in parse(included, (ROOT / included).read_text(encoding="utf-8")):
            if block.not_run is None:
                block.not_run = f"included into {relative}; not a docs page"
            blocks.append(block)
    return blocks


# ------------------------------------------------------------------ the loopback world


class AnyLoginSMTPServer(SMTPServer):
    """The tests' aiosmtpd server, accepting any user name and password (the examples
    write ``user:pass`` and ``PASSWORD``); the logins are still recorded."""

    def _authenticate(
        self, smtp: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        login = data.login.decode("utf-8", "replace") if isinstance(data, LoginPassword) else ""
        self.recorder.auth.append((mechanism, login, True))
        return AuthResult(success=True, handled=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class World:
    """The stand-ins and where each example host goes."""

    routes: dict[tuple[str, int], int]
    smtp: list[SMTPServer]
    http: HttpStub
    ca_bundle: Path
    stack: ExitStack
    _redis: str | None = None

    def redis_url(self) -> str:
        """A throwaway redis-server (the Celery broker), started on first use."""
        if self._redis is None:
            server = shutil.which("redis-server")
            if server is None:
                pytest.fail("redis-server is not installed (.ci/install installs it)")
            port = _free_port()
            process = subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.stack.callback(process.wait, 10)
            self.stack.callback(process.terminate)
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"redis-server did not start on port {port}")
                    time.sleep(0.05)
            self._redis = f"redis://127.0.0.1:{port}/0"
        return self._redis

    def fill(self, value: str) -> str:
        """``value`` with ``{redis_url}`` replaced (the only placeholder an env line takes)."""
        if "{redis_url}" in value:
            value = value.replace("{redis_url}", self.redis_url())
        return value

    def sent(self) -> int:
        """Messages the SMTP stand-ins accepted plus requests the HTTP stand-in answered."""
        return sum(len(server.messages) for server in self.smtp) + int(
            self.http.stats()["requests"]
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("docs-world")
    ca = TestCA(str(folder), hostnames=("127.0.0.1", "localhost", *SMTP_HOSTS))
    servers = {
        587: AnyLoginSMTPServer(ca=ca, tls="starttls", auth=True),
        465: AnyLoginSMTPServer(ca=ca, tls="implicit", auth=True),
        25: AnyLoginSMTPServer(),
    }
    with ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server.start())
        stub = stack.enter_context(
            start_stub(tls=True, ca_file=str(folder / "http-ca.pem"), tls_names=HTTP_HOSTS)
        )
        assert stub.tls_port is not None
        bundle = folder / "ca-bundle.pem"
        bundle.write_text(Path(ca.ca_file).read_text() + (folder / "http-ca.pem").read_text())
        routes = {
            (host, port): server.port for host in SMTP_HOSTS for port, server in servers.items()
        }
        routes.update({(host, 443): stub.tls_port for host in HTTP_HOSTS})
        # Mailpit / MailHog on their default SMTP port (docs/local-development.md)
        routes.update({(host, 1025): servers[25].port for host in ("localhost", "127.0.0.1")})
        yield World(routes, list(servers.values()), stub, bundle, stack)


@pytest.fixture
def loopback_names(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve the example hosts to the stand-ins; refuse every other non-loopback name."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        target = world.routes.get((str(name).lower(), int(port or 0)))
        if target is None and name in (None, "127.0.0.1", "localhost", "::1"):
            return real(host, port, *args, **kwargs)
        if target is None:
            raise socket.gaierror(
                socket.EAI_NONAME,
                f"{name}:{port} has no loopback stand-in in tests/test_docs.py (SMTP_HOSTS, "
                "HTTP_HOSTS); nothing leaves the machine",
            )
        return real("127.0.0.1", target, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("SSL_CERT_FILE", str(world.ca_bundle))


# ------------------------------------------------------------------ fixtures for test_* blocks


def _flask_client(stack: ExitStack) -> Any:
    import flask_app  # examples/ is on the import path while a page runs

    return flask_app.create_app({"UNISEND_URL": "memory://"}).test_client()


def _outbox(stack: ExitStack) -> Any:
    from unisend.testing import capture_outbox

    return stack.enter_context(capture_outbox())


#: What a ``test_*`` function defined in a block may ask for, by parameter name: the
#: ``unisend_outbox`` fixture, and a Flask test ``client`` of examples/flask_app.py.
FIXTURES: dict[str, Callable[[ExitStack], Any]] = {
    "unisend_outbox": _outbox,
    "client": _flask_client,
}


def _call_tests(namespace: dict[str, Any], before: set[str], block: Block) -> int:
    called = 0
    for name, function in list(namespace.items()):
        if name in before or not name.startswith("test_") or not callable(function):
            continue
        with ExitStack() as stack:
            arguments = {}
            for parameter in inspect.signature(function).parameters:
                if parameter not in FIXTURES:
                    raise AssertionError(
                        f"{block.where}: {name}() asks for {parameter!r}; add it to FIXTURES"
                    )
                arguments[parameter] = FIXTURES[parameter](stack)
            function(**arguments)
        called += 1
    return called


# ------------------------------------------------------------------ running a page


def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    code = compile(
        block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


def _run_pycon(block: Block, namespace: dict[str, Any]) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.code, namespace, block.where, block.page, block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    output: list[str] = []
    runner.run(test, out=output.append, clear_globs=False)
    assert runner.failures == 0, "".join(output)


_CHECK_URL = re.compile(r"^\$ unisend check-url '(?P<url>[^'$]+)'(?:\s+#.*)?$")


def _run_console(block: Block) -> int:
    """Run the block's ``$ unisend check-url '...'`` commands (the trivially runnable ones:
    they only parse) and compare each with the output line under it; return how many."""
    lines = block.code.splitlines()
    ran = 0
    for index, line in enumerate(lines):
        command = _CHECK_URL.match(line)
        if command is None:
            continue
        done = subprocess.run(
            [sys.executable, "-m", "unisend", "check-url", command["url"]],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        expected = lines[index + 1] if index + 1 < len(lines) else ""
        assert done.returncode == 0, f"{block.where}: {line}\n{done.stderr}"
        assert done.stdout.strip() == expected.strip(), f"{block.where}: {line}\n{done.stdout}"
        ran += 1
    return ran


@dataclass
class Tally:
    ran: int = 0
    doctests: int = 0
    tests_called: int = 0
    commands: int = 0
    skipped: list[str] | None = None


def run_page(path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, world: World) -> Tally:
    """Run every block of ``path`` in ``workdir``; return what ran and what did not."""
    tally = Tally(skipped=[])
    assert tally.skipped is not None
    monkeypatch.chdir(workdir)
    monkeypatch.syspath_prepend(str(ROOT / "examples"))  # the pages import the examples' apps
    monkeypatch.syspath_prepend(str(workdir))
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    relative = path.relative_to(ROOT).as_posix()
    for block in page_blocks(path):
        for key, value in block.env:
            monkeypatch.setenv(key, world.fill(value))
        if block.not_run is not None:
            tally.skipped.append(f"{block.where} ({block.lang or 'plain'}): {block.not_run}")
        elif block.file is not None:
            (workdir / block.file).write_text(block.code, encoding="utf-8")
        elif block.lang in PYTHON | PYCON and relative in COVERED_ELSEWHERE:
            tally.skipped.append(f"{block.where}: run by {COVERED_ELSEWHERE[relative]}")
        elif block.lang in PYTHON:
            before = set(namespace)
            try:
                _run_python(block, namespace)
            except Exception as exc:
                raise AssertionError(f"{block.where} failed: {exc!r}\n{block.code}") from exc
            tally.tests_called += _call_tests(namespace, before, block)
            tally.ran += 1
        elif block.lang in PYCON:
            _run_pycon(block, namespace)
            tally.doctests += 1
        elif block.lang == "console" and (commands := _run_console(block)):
            tally.commands += commands
        else:
            kind = "shell" if block.lang in SHELL else "not code"
            tally.skipped.append(f"{block.where} ({block.lang or 'plain'}): {kind}")
    return tally


def _page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", pages(), ids=_page_id)
@pytest.mark.usefixtures("loopback_names")
def test_page_code_blocks_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    for name in ("UNISEND_URL", "UNISEND_REQUIRE_URL", "UNISEND_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UNISEND_SANDBOX", str(tmp_path / ".unisend" / "sandbox.sqlite3"))
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4\n% a stand-in for the report\n")
    sent_before = world.sent()
    try:
        tally = run_page(path, tmp_path, monkeypatch, world)
    finally:  # modules a page wrote (<!-- file: -->) must not outlive it
        for name, module in sys.modules.copy().items():  # other threads may import
            if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
                del sys.modules[name]
    assert tally.skipped is not None
    print(
        f"\n{_page_id(path)}: {tally.ran} python block(s) ran, {tally.doctests} pycon, "
        f"{tally.tests_called} test function(s) called, {tally.commands} check-url command(s), "
        f"{world.sent() - sent_before} "
        f"message(s)/request(s) reached the stand-ins, {len(tally.skipped)} not run:"
    )
    for line in tally.skipped:
        print(f"  not run: {line}")


# ------------------------------------------------------------------ the runner's own rules


def test_covered_elsewhere_is_true() -> None:
    for page, test in COVERED_ELSEWHERE.items():
        assert (ROOT / page).exists(), f"{page} is gone: drop it from COVERED_ELSEWHERE"
        assert Path(page).name in (ROOT / test).read_text(encoding="utf-8"), test


def test_every_python_block_is_run_or_says_why_not() -> None:
    unexplained = [
        block.where
        for path in pages()
        for block in page_blocks(path)
        if block.lang in PYTHON | PYCON
        and block.not_run is not None
        and len(block.not_run.strip()) < 10
    ]
    assert not unexplained, f"a not-run reason says why in words: {unexplained}"


def test_parse_reads_directives_and_indented_fences() -> None:
    text = (
        "intro\n\n<!-- env: A=1 -->\n<!-- not-run: needs a real account -->\n```python\nx = 1\n"
        "```\n\n- item\n\n    ```pycon\n    >>> 1 + 1\n    2\n    ```\n\n<!-- file: m.py -->\n"
        "```python\nY = 2\n```\n"
    )
    first, second, third = parse("p.md", text)
    assert (first.lang, first.not_run, first.env, first.code) == (
        "python", "needs a real account", (("A", "1"),), "x = 1\n"
    )  # fmt: skip
    assert (second.lang, second.code, second.line) == ("pycon", ">>> 1 + 1\n2\n", 11)
    assert (third.file, third.not_run) == ("m.py", None)


def test_docstring_doctests_are_fenced_for_the_api_reference() -> None:
    spec = importlib.util.spec_from_file_location(
        "griffe_doctests", ROOT / "tools/griffe_doctests.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "Intro.\n\n>>> 1 + 1\n2\n>>> print(\n...     'x')\nx\n\nAfter.\n\n```\n>>> kept\n```"
    assert module.fence_doctests(text) == (
        "Intro.\n\n```pycon\n>>> 1 + 1\n2\n>>> print(\n...     'x')\nx\n```\n\nAfter.\n\n"
        "```\n>>> kept\n```"
    )


def _nav_pages(entries: Any) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        else:
            for value in entry.values():
                yield from ([value] if isinstance(value, str) else _nav_pages(value))


def test_every_docs_page_is_in_the_site_nav() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = set(_nav_pages(config["nav"]))
    pages_on_disk = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert pages_on_disk - in_nav == set(), "add these pages to the nav in mkdocs.yml"


def test_every_public_name_is_in_the_api_reference() -> None:
    import unisend
    import unisend.transports
    import unisend.webhooks

    documented = set(
        re.findall(
            r"^::: (\S+)$", "".join(p.read_text() for p in (DOCS / "reference").glob("*.md")), re.M
        )
    )
    public = {f"unisend.{name}" for name in unisend.__all__ if name != "__version__"}
    public |= {f"unisend.transports.{name}" for name in unisend.transports.__all__}
    public |= {f"unisend.webhooks.{name}" for name in unisend.webhooks.__all__}
    assert public - documented == set(), "add these names to a page of docs/reference/"
