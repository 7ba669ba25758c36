"""The unisend pytest plugin (entry point ``pytest11``): the ``unisend_outbox`` fixture.

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

import pytest

from . import Outbox, capture_outbox


@pytest.fixture
def unisend_outbox() -> Iterator[Outbox]:
    """Capture every message sent through unisend during the test.

    Offers ``len(outbox)``, ``outbox[i]``, ``outbox.find(to=, subject=, sender=,
    contains=)`` and ``outbox.assert_sent(count=None, **filters)``.
    """
    with capture_outbox() as outbox:
        yield outbox


__all__ = ["unisend_outbox"]
