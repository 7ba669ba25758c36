"""The unisend pytest plugin (entry point ``pytest11``): the ``unisend_outbox`` and
``unisend_inbox`` fixtures.

>>> def test_welcome_mail(unisend_outbox):
...     signup("bob@example.com")           # any code that sends through unisend
...     unisend_outbox.assert_sent(count=1, to="bob@example.com", subject="Welcome")

While the fixture is active every ``Mailer``/``AsyncMailer`` send in the test process
goes to one shared ``MemoryTransport`` (see :func:`unisend.testing.capture_outbox`), so
the Django backend, the Flask extension and eager Celery tasks are captured too. This
module imports only pytest and unisend's core at load time: it works whether or not
Django, Flask or Celery are installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from . import Outbox, capture_outbox

if TYPE_CHECKING:
    from .inbox import InboxServer


@pytest.fixture
def unisend_outbox() -> Iterator[Outbox]:
    """Capture every message sent through unisend during the test.

    Offers ``len(outbox)``, ``outbox[i]``, ``outbox.find(to=, subject=, sender=,
    contains=)`` and ``outbox.assert_sent(count=None, **filters)``.
    """
    with capture_outbox() as outbox:
        yield outbox


@pytest.fixture(scope="session")
def _unisend_inbox_server() -> Iterator[InboxServer]:
    from .inbox import InboxServer

    with InboxServer.start() as server:
        yield server


@pytest.fixture
def unisend_inbox(_unisend_inbox_server: InboxServer) -> InboxServer:
    """A real ``unisend sandbox serve`` (SMTP + API, loopback, free ports), started once
    per session and emptied before each test; needs ``unisend[server]``.

    Point the code under test at ``unisend_inbox.smtp_host``/``smtp_port``, then
    ``unisend_inbox.wait_for(subject=..., to=...)``.
    """
    _unisend_inbox_server.clear()
    return _unisend_inbox_server


__all__ = ["unisend_inbox", "unisend_outbox"]
