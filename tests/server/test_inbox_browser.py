"""The web inbox in a real browser: Debian's Chromium driven by Playwright.

The list, opening a message, its HTML inside the sandboxed iframe (with a ``cid:``
image), live arrival without reload, search, download, delete, and a hostile message
(scripts, event handlers, ``javascript:`` links, SVG, markup in the subject, sender and
file name, remote images, styles, frames and a meta refresh pointing at a loopback server
that counts hits) that must run nothing and fetch nothing until "load remote content".

Screenshots go to ``$INBOX_TEST_ARTIFACTS`` (default: pytest's temporary folder,
``.../artifacts``); ``INBOX_DOCS_SCREENSHOT=1`` also refreshes ``docs/img/inbox.png``.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import struct
import threading
import zlib
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from servers.inbox import Inbox, start_inbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


def solid_png(size: int, rgb: tuple[int, int, int]) -> bytes:
    """A ``size`` x ``size`` PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = solid_png(16, (255, 196, 0))

if shutil.which(CHROMIUM) is None:  # pragma: no cover - .ci/install installs it
    pytest.skip(
        f"LOUD SKIP: Debian's chromium is not installed at {CHROMIUM}; "
        "run .ci/install (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")


class Hits:
    """A loopback HTTP server that counts every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        hits = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.paths.append(self.path)
                body = PNG if self.path.endswith((".png", ".gif")) else b"/* counted */"
                self.send_response(200)
                self.send_header("Content-Type", "image/png" if body is PNG else "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("INBOX_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    with start_inbox(tmp_path_factory.mktemp("browser") / "store.sqlite3") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, inbox: Inbox) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    opened = context.new_page()
    opened.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()

    opened.on("dialog", on_dialog)
    opened.goto(inbox.url)
    yield opened
    context.close()


@pytest.fixture
def hits() -> Iterator[Hits]:
    server = Hits()
    yield server
    server.close()


def send(inbox: Inbox, message: EmailMessage, sender: str = "app@example.com") -> None:
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
        client.sendmail(sender, ["user@example.com"], message.as_bytes(policy=policy.SMTP))


def welcome() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme <hello@acme.example>"
    message["To"] = "Bob <bob@example.com>"
    message["Subject"] = "Welcome to Acme, Bob!"
    message.set_content("Hi Bob,\nthanks for signing up.\n")
    message.add_alternative(
        "<html><body style='font-family:sans-serif;margin:0'>"
        "<div style='background:#2f6fde;color:#fff;padding:24px 32px'>"
        "<img id='logo' src='cid:logo@acme' width='32' height='32' alt='logo'> "
        "<b style='font-size:22px'>Acme</b></div>"
        "<div style='padding:24px 32px'><h1 id='hello'>Welcome aboard, Bob!</h1>"
        "<p>Your account is ready. Confirm your address to get started.</p>"
        "<p><a style='background:#2f6fde;color:#fff;padding:10px 18px;border-radius:6px;"
        "text-decoration:none' href='https://acme.example/confirm'>Confirm my email</a></p>"
        "<p style='color:#667085'>Sent by Acme, 1 Main Street.</p></div></body></html>",
        subtype="html",
    )
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(PNG, "image", "png", cid="<logo@acme>", filename="logo.png")
    return message


def plain(
    subject: str, body: str = "Hello.\n", attachment: tuple[str, bytes] | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <orders@shop.example>"
    message["To"] = "bob@example.com"
    message["Subject"] = subject
    message.set_content(body)
    if attachment:
        message.add_attachment(attachment[1], "application", "pdf", filename=attachment[0])
    return message


def hostile(hits_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = '"<img src=x onerror=alert(1)>" <mallory@evil.example>'
    message["To"] = "bob@example.com"
    message["Subject"] = "<script>alert('subject')</script><b>bold?</b>"
    message.set_content("<script>alert('text')</script> plain text stays text\n")
    message.add_alternative(
        f"""<html><head>
<meta http-equiv="refresh" content="1;url={hits_url}/refresh">
<link rel="stylesheet" href="{hits_url}/link.css">
<link rel="prefetch" href="{hits_url}/prefetch">
<style>@import url({hits_url}/import.css);
body {{ background: url({hits_url}/background.png); }}
@font-face {{ font-family: t; src: url({hits_url}/font.woff); }} p {{ font-family: t; }}</style>
<base href="{hits_url}/base/">
</head><body>
<p id="marker">hostile body visible</p>
<script>fetch("{hits_url}/script"); window.top.pwned = 1; alert("script");</script>
<img id="remote" src="{hits_url}/pixel.gif">
<img src="does-not-exist" onerror="fetch('{hits_url}/onerror'); alert('onerror')">
<svg onload="fetch('{hits_url}/svg-onload')"><script>fetch("{hits_url}/svg-script")</script>
<image href="{hits_url}/svg-image.png"/></svg>
<a id="jslink" href="javascript:fetch('{hits_url}/javascript-link');alert('js')">click me</a>
<a id="remotelink" href="{hits_url}/clicked-link">remote link</a>
<a id="toplink" target="_top" href="{hits_url}/top-navigation">take over the page</a>
<a id="popuplink" target="_blank" href="{hits_url}/popup">open a window</a>
<iframe src="{hits_url}/iframe"></iframe>
<object data="{hits_url}/object"></object>
<video poster="{hits_url}/poster.png" src="{hits_url}/video.mp4"></video>
<form action="{hits_url}/form" method="post"><button id="formbutton">go</button></form>
<div onmouseover="fetch('{hits_url}/mouseover')" id="hover">hover me</div>
</body></html>""",
        subtype="html",
    )
    message.add_attachment(
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        "image",
        "svg+xml",
        filename='<img src=x onerror="alert(`file`)">.svg',
    )
    message.add_attachment(
        b"<script>alert('attachment')</script>", "text", "html", filename="page.html"
    )
    return message


def open_message(page: Any, subject: str) -> None:
    page.locator("#messages li", has_text=subject).first.click()
    sync_api.expect(page.locator("#d-subject")).to_have_text(subject)


def test_list_open_message_html_in_sandboxed_iframe(
    page: Any, inbox: Inbox, artifacts: Path
) -> None:
    send(inbox, plain("Your order #1042 has shipped"))
    send(inbox, plain("Invoice 2026-117", "Invoice attached.\n", ("invoice.pdf", b"%PDF-1.4 x")))
    send(inbox, plain("Reset your password", "Use this link: https://acme.example/r/abc\n"))
    send(inbox, welcome(), sender="hello@acme.example")
    page.reload()
    items = page.locator("#messages li")
    sync_api.expect(items.first).to_contain_text("Welcome to Acme, Bob!")
    assert items.count() >= 4
    sync_api.expect(page.locator("#live")).to_have_text("live")

    open_message(page, "Welcome to Acme, Bob!")
    frame_element = page.locator("#html-frame")
    assert frame_element.get_attribute("sandbox") == ""  # no allow-scripts, no same-origin
    frame = page.frame_locator("#html-frame")
    sync_api.expect(frame.locator("#hello")).to_have_text("Welcome aboard, Bob!")
    logo = frame.locator("#logo")
    sync_api.expect(logo).to_have_attribute("src", "/api/messages/4/attachments/0")
    loaded = logo.evaluate("img => img.complete && img.naturalWidth")
    assert loaded == 16  # the cid: part was served and decoded as an image
    sync_api.expect(page.locator("#remote-bar")).to_be_hidden()  # a plain link loads nothing
    page.screenshot(path=str(artifacts / "inbox-message.png"))
    if os.environ.get("INBOX_DOCS_SCREENSHOT") == "1":
        page.screenshot(path=str(REPO / "docs" / "img" / "inbox.png"))

    page.locator(".tabs button[data-tab=text]").click()
    sync_api.expect(page.locator("#text-pane")).to_have_text("Hi Bob,\nthanks for signing up.\n")
    page.locator(".tabs button[data-tab=headers]").click()
    sync_api.expect(page.locator("#headers-pane")).to_contain_text("Welcome to Acme, Bob!")
    page.locator(".tabs button[data-tab=raw]").click()
    sync_api.expect(page.locator("#raw-pane")).to_contain_text("Content-ID: <logo@acme>")

    open_message(page, "Invoice 2026-117")
    page.locator(".tabs button[data-tab=attachments]").click()
    with page.expect_download() as download:
        page.locator("#attachments-pane a", has_text="invoice.pdf").click()
    assert download.value.suggested_filename == "invoice.pdf"
    assert Path(download.value.path()).read_bytes() == b"%PDF-1.4 x"
    page.screenshot(path=str(artifacts / "inbox-attachments.png"))


def test_live_arrival_search_and_delete(page: Any, inbox: Inbox, artifacts: Path) -> None:
    sync_api.expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    send(inbox, plain("Arrived while you watched"))
    sync_api.expect(page.locator("#messages li").first).to_contain_text(
        "Arrived while you watched", timeout=5000
    )
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(artifacts / "inbox-live.png"))

    page.locator("#search").fill("invoice")
    sync_api.expect(page.locator("#messages li")).to_have_count(1)
    sync_api.expect(page.locator("#messages li")).to_contain_text("Invoice 2026-117")
    page.locator("#search").fill("")
    sync_api.expect(page.locator("#messages li").first).to_contain_text("Arrived while")

    before = page.locator("#messages li").count()
    open_message(page, "Arrived while you watched")
    page.locator("#delete-one").click()
    sync_api.expect(page.locator("#messages li")).to_have_count(before - 1)
    sync_api.expect(page.locator("#messages li", has_text="Arrived while")).to_have_count(0)
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_hostile_message_runs_nothing_and_fetches_nothing(
    page: Any, inbox: Inbox, hits: Hits, artifacts: Path
) -> None:
    evil = hostile(hits.url)
    send(inbox, evil, sender="mallory@evil.example")
    subject = str(evil["Subject"])
    item = page.locator("#messages li", has_text="alert('subject')")
    sync_api.expect(item).to_have_count(1)
    assert page.locator("#messages li script, #messages li b, #messages li img").count() == 0
    item.click()
    sync_api.expect(page.locator("#d-subject")).to_have_text(subject)  # shown as text
    sync_api.expect(page.locator("#d-from")).to_have_text(str(evil["From"]))
    assert page.locator(".meta img, .meta script, .meta b").count() == 0
    frame = page.frame_locator("#html-frame")
    sync_api.expect(frame.locator("#marker")).to_have_text("hostile body visible")
    sync_api.expect(page.locator("#remote-bar")).to_be_visible()  # on the HTML tab

    # try to make it act: hover, click the javascript: link, the remote link, the form
    frame.locator("#hover").hover()
    frame.locator("#jslink").click()
    frame.locator("#formbutton").click()
    frame.locator("#toplink").click()  # no allow-top-navigation: the inbox stays
    frame.locator("#popuplink").click()  # no allow-popups: no new window
    frame.locator("#remotelink").click()  # last: it would replace the framed document
    page.wait_for_timeout(2000)  # past the meta refresh's 1 s
    assert hits.paths == []
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.evaluate("window.pwned") is None
    assert page.url.rstrip("/") == inbox.url
    assert page.context.pages == [page]

    headers = page.locator("#headers-pane")
    page.locator(".tabs button[data-tab=headers]").click()
    sync_api.expect(headers).to_contain_text(str(evil["From"]))
    assert headers.locator("img").count() == 0
    page.locator(".tabs button[data-tab=text]").click()
    sync_api.expect(page.locator("#text-pane")).to_contain_text("<script>alert('text')</script>")
    page.locator(".tabs button[data-tab=attachments]").click()
    link = page.locator("#attachments-pane a").first
    sync_api.expect(link).to_have_text('<img src=x onerror="alert(`file`)">.svg')
    assert page.locator("#attachments-pane img").count() == 0
    page.screenshot(path=str(artifacts / "inbox-hostile.png"))

    # the framed document opened on its own, outside the iframe: still inert (CSP sandbox)
    view_page = page.context.new_page()
    view_page.on("dialog", lambda dialog: page.dialogs.append(dialog.message))  # type: ignore[attr-defined]
    view_page.goto(inbox.url + str(page.locator("#html-frame").get_attribute("src")))
    sync_api.expect(view_page.locator("#marker")).to_have_text("hostile body visible")
    view_page.wait_for_timeout(1500)
    assert view_page.evaluate("window.pwned") is None
    view_page.close()
    assert hits.paths == []
    assert page.dialogs == []  # type: ignore[attr-defined]

    # "load remote content": remote images and styles now load; scripts still never run
    page.locator(".tabs button[data-tab=html]").click()
    page.locator("#load-remote").click()
    sync_api.expect(frame.locator("#marker")).to_have_text("hostile body visible")
    page.wait_for_timeout(2000)
    assert "/pixel.gif" in hits.paths
    ran = {"/script", "/onerror", "/svg-onload", "/svg-script", "/javascript-link", "/mouseover"}
    assert ran.isdisjoint(hits.paths), hits.paths
    assert "/refresh" not in hits.paths and "/iframe" not in hits.paths
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_delete_all_empties_the_list(page: Any, inbox: Inbox) -> None:
    sync_api.expect(page.locator("#messages li").first).to_be_visible()
    page.locator("#delete-all").click()
    sync_api.expect(page.locator("#messages li")).to_have_count(0)
    sync_api.expect(page.locator("#empty")).to_be_visible()
    assert page.dialogs == ["Delete every message in the inbox?"]  # type: ignore[attr-defined]
