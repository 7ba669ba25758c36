"""Flask extension: ``mail = Unisend(app)`` or ``mail.init_app(app)`` in an app factory.

Config keys (``app.config``)::

    UNISEND_URL = "smtp://user:pass@smtp.example.com:587"   # else $UNISEND_URL
    UNISEND_DEFAULT_SENDER = "Shop <noreply@shop.example>"  # optional
    UNISEND_RETRY = {"attempts": 3, "backoff": 0.5}         # optional RetryPolicy fields
    UNISEND_SUPPRESS_SEND = False   # optional; True sends to a MemoryTransport instead

``send(message)`` uses the app of the current context, so one ``Unisend`` object serves
any number of apps. ``with mail.record_messages() as outbox:`` collects every message
sent through the extension in the block (after the default sender is applied), for tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context
from flask import Response as _Response
from flask import request as _request

from .. import ConfigurationError
from . import build_mailer, resolve_url, retry_from_config

if TYPE_CHECKING:
    from .._mailer import Mailer
    from .._message import Message
    from .._result import SendResult
    from ..webhooks import DeliveryEvent

#: The key under ``app.extensions``.
EXTENSION_KEY = "unisend"


@dataclass
class _State:
    """What the extension keeps per app, in ``app.extensions["unisend"]``."""

    mailer: Mailer
    recorders: list[list[Message]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Unisend:
    """The Flask extension: ``Unisend(app=None)``; call :meth:`init_app` for factories."""

    def __init__(self, app: Flask | None = None) -> None:
        self._app = app
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the app's ``UNISEND_*`` config, check it, and build its mailer.

        A bad URL or option raises :class:`~unisend.ConfigurationError` here, at start-up.
        """
        suppress = app.config.get("UNISEND_SUPPRESS_SEND", False)
        if not isinstance(suppress, bool):
            raise ConfigurationError("UNISEND_SUPPRESS_SEND must be True or False")
        url = (
            "memory://"
            if suppress
            else resolve_url(app.config.get("UNISEND_URL"), "app.config['UNISEND_URL']")
        )
        mailer = build_mailer(
            url,
            default_sender=app.config.get("UNISEND_DEFAULT_SENDER"),
            retry=retry_from_config(app.config.get("UNISEND_RETRY"), "UNISEND_RETRY"),
            spool=None if suppress else app.config.get("UNISEND_SPOOL"),
        )
        app.extensions[EXTENSION_KEY] = _State(mailer)

    def _state(self) -> _State:
        if has_app_context():
            app: Any = current_app
        elif self._app is not None:
            app = self._app
        else:
            raise RuntimeError(
                "no Flask app: call send() inside an app context or pass the app to Unisend(app)"
            )
        state = app.extensions.get(EXTENSION_KEY)
        if not isinstance(state, _State):
            raise ConfigurationError(
                f"unisend is not set up for the app {app.name!r}; call Unisend.init_app(app)"
            )
        return state

    @property
    def mailer(self) -> Mailer:
        """The current app's :class:`~unisend.Mailer`."""
        return self._state().mailer

    def send(self, message: Message) -> SendResult:
        """Send ``message`` through the current app's route; return its SendResult.

        Raises :class:`~unisend.InvalidMessage` (before any I/O) or
        :class:`~unisend.SendError`, as :meth:`unisend.Mailer.send` does.
        """
        state = self._state()
        mailer = state.mailer
        if message.sender is None and mailer.default_sender is not None:
            message = message.with_sender(mailer.default_sender)
        result = mailer.send(message)
        with state.lock:
            for outbox in state.recorders:
                outbox.append(message)
        return result

    @contextmanager
    def record_messages(self) -> Iterator[list[Message]]:
        """Collect, in a list, every message the current app sends (and has accepted)
        in the block.

        Messages are still delivered through the configured route; set
        ``UNISEND_SUPPRESS_SEND = True`` (or ``UNISEND_URL = "memory://"``) in test
        config so nothing leaves the process.
        """
        state = self._state()
        outbox: list[Message] = []
        with state.lock:
            state.recorders.append(outbox)
        try:
            yield outbox
        finally:
            with state.lock:
                state.recorders.remove(outbox)


# ------------------------------------------------------------ delivery-event webhooks

_logger = logging.getLogger("unisend.contrib.flask")


def webhook_view(
    provider: str, handler: Callable[[DeliveryEvent], object], **auth: Any
) -> Callable[[], _Response]:
    """A Flask view receiving ``provider``'s delivery-event webhook::

        app.add_url_rule(
            "/hooks/postmark",
            view_func=webhook_view("postmark", on_event, basic_auth="hook:s3cret"),
            methods=["POST"],
        )

    ``auth`` takes the keywords of :func:`unisend.webhooks.parse_events`
    (``basic_auth``, ``verification_key``, ``signing_secret``, ``token``,
    ``insecure``), checked here (:class:`~unisend.ConfigurationError`). The view answers
    401 when the request fails verification, 400 when the body is malformed (or over
    10 MB), 405 for a method other than POST, and otherwise calls ``handler(event)`` once
    per event, in order, then answers 200. A handler that raises makes the request fail
    (HTTP 500), so the provider sends it again. The endpoint name defaults to
    ``unisend_<provider>_webhook``.
    """
    from ..webhooks import WebhookAuthError, WebhookError
    from ..webhooks._decode import MAX_BODY
    from ..webhooks._receiver import Receiver

    receiver = Receiver(provider, **auth)

    def view() -> _Response:
        if _request.method != "POST":
            return _Response("POST only", status=405, headers={"Allow": "POST"})
        try:
            length = _request.content_length
            if length is not None and length > MAX_BODY:  # refuse before reading it
                raise WebhookError(f"webhook body is {length} bytes, over the 10 MB limit")
            events = receiver.parse(_request.get_data(), _request.headers)
        except WebhookError as error:
            status = 401 if isinstance(error, WebhookAuthError) else 400
            _logger.warning("%s webhook refused (%d): %s", receiver.provider, status, error)
            response = _Response(str(error), status=status, mimetype="text/plain")
            if status == 401 and receiver.challenge:
                response.headers["WWW-Authenticate"] = receiver.challenge
            return response
        for event in events:
            handler(event)
        return _Response("", status=200)

    view.__name__ = view.__qualname__ = f"unisend_{receiver.provider}_webhook"
    return view


__all__ = ["EXTENSION_KEY", "Unisend", "webhook_view"]
