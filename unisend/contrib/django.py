"""Django email backend: ``EMAIL_BACKEND = "unisend.contrib.django.EmailBackend"``.

Settings (``settings.py``)::

    EMAIL_BACKEND = "unisend.contrib.django.EmailBackend"
    UNISEND_URL = "smtp://user:pass@smtp.example.com:587"
    # or, with options:
    UNISEND = {
        "URL": "failover(postmark://TOKEN@default smtp://user:pass@smtp.example.com)",
        "RETRY": {"attempts": 3, "backoff": 0.5},
        "DEFAULT_SENDER": "Shop <noreply@shop.example>",
    }

With Django 6.1's ``MAILERS``, give the same options as ``OPTIONS`` in lower case;
they take precedence over the settings above::

    MAILERS = {
        "default": {
            "BACKEND": "unisend.contrib.django.EmailBackend",
            "OPTIONS": {"url": "smtp://user:pass@smtp.example.com:587"},
        },
        "bulk": {
            "BACKEND": "unisend.contrib.django.EmailBackend",
            "OPTIONS": {
                "url": "postmark://TOKEN@default",
                "retry": {"attempts": 5},
                "default_sender": "News <news@shop.example>",
            },
        },
    }
    # send_mail(..., using="bulk") or EmailMessage(...).send(using="bulk")

Without any URL, the ``UNISEND_URL`` environment variable is used.

Each :class:`EmailMessage` is converted to a :class:`unisend.Message` (see
:func:`to_message`) before anything is sent, so an invalid message raises
:class:`~unisend.InvalidMessage` with nothing sent. ``fail_silently`` swallows
:class:`~unisend.SendError` only, never configuration or message errors.
"""

from __future__ import annotations

import email.message
import logging
import mimetypes
import os
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.dispatch import Signal

from .. import ConfigurationError, InvalidMessage, SendError
from .._message import Address, Attachment, Message
from . import build_mailer, resolve_url, retry_from_config

if TYPE_CHECKING:
    from .._mailer import Mailer
    from .._retry import RetryPolicy

logger = logging.getLogger("unisend.contrib.django")

#: Keys of the ``UNISEND`` settings dict.
SETTINGS_KEYS = ("URL", "RETRY", "DEFAULT_SENDER", "SPOOL")

# How each header unisend writes itself is treated when it appears in extra_headers.
# "from" and "reply-to" are mapped onto fields (as Django's own backend lets them win).
_DROPPED_HEADERS = frozenset(
    {"date", "mime-version", "content-type", "content-transfer-encoding", "content-disposition"}
)
_REFUSED_HEADERS = {
    "to": "set EmailMessage.to; unisend cannot show a To header that differs from the envelope",
    "cc": "set EmailMessage.cc; unisend cannot show a Cc header that differs from the envelope",
    "bcc": "set EmailMessage.bcc; a Bcc header would reveal the blind copies",
    "subject": "set EmailMessage.subject",
    "sender": "set EmailMessage.from_email (unisend uses one sender for From and the envelope)",
    "content-id": "attach a MIMEBase part with its own Content-ID header",
}

# Attributes of an EmailMessage that map onto Message fields of the same purpose
# (the names django-anymail uses, so messages built for it keep working).
_EXTRA_FIELDS = ("tags", "metadata", "template_id", "template_data", "send_at", "provider_options")


def _settings() -> tuple[object, object, object, object]:
    """(url, retry, default_sender, spool) from ``UNISEND_URL`` / ``UNISEND``."""
    flat = getattr(settings, "UNISEND_URL", None)
    nested = getattr(settings, "UNISEND", None)
    if nested is None:
        return flat, None, None, None
    if not isinstance(nested, dict):
        raise ConfigurationError(
            f"settings.UNISEND must be a dict with keys {', '.join(SETTINGS_KEYS)}"
        )
    unknown = sorted(set(nested) - set(SETTINGS_KEYS))
    if unknown:
        raise ConfigurationError(
            f"settings.UNISEND has unknown key(s) {unknown}; allowed: {', '.join(SETTINGS_KEYS)}"
        )
    if flat is not None and nested.get("URL") is not None:
        raise ConfigurationError(
            "both settings.UNISEND_URL and settings.UNISEND['URL'] are set; keep one"
        )
    return (
        nested.get("URL", flat),
        nested.get("RETRY"),
        nested.get("DEFAULT_SENDER"),
        nested.get("SPOOL"),
    )


#: Django's SMTP backend settings, in the order the migration hint names them.
DJANGO_SMTP_SETTINGS = (
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
)


def smtp_settings_hint() -> str | None:
    """What to say when no unisend URL is set but Django's ``EMAIL_*`` SMTP settings are.

    Names the settings found (set in the settings module, not Django's defaults) and the
    ``smtp://`` URL that says the same, with the password shown as ``***``; None when
    none of them is set.
    """
    found = [name for name in DJANGO_SMTP_SETTINGS if settings.is_overridden(name)]
    if not found:
        return None
    # Django 6.1 deprecates the EMAIL_* settings and warns on every read outside Django;
    # reading them here is the point (to say what to write instead), so say nothing twice.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        host = str(getattr(settings, "EMAIL_HOST", "") or "localhost")
        port = getattr(settings, "EMAIL_PORT", None)
        user = str(getattr(settings, "EMAIL_HOST_USER", "") or "")
        has_password = bool(getattr(settings, "EMAIL_HOST_PASSWORD", ""))
        use_ssl = bool(getattr(settings, "EMAIL_USE_SSL", False))
        use_tls = bool(getattr(settings, "EMAIL_USE_TLS", False))
        timeout = getattr(settings, "EMAIL_TIMEOUT", None)
    credentials = ""
    if user:
        credentials = quote(user, safe="") + (":***" if has_password else "") + "@"
    host_part = f"[{host}]" if ":" in host else host
    url = f"{'smtps' if use_ssl else 'smtp'}://{credentials}{host_part}"
    if port:
        url += f":{port}"
    query = []
    if not use_ssl and not use_tls:
        query.append("security=none")
        if user:
            query.append("allow_insecure_auth=true")
    if timeout is not None:
        query.append(f"timeout={timeout}")
    if query:
        url += "?" + "&".join(query)
    password_note = ""
    if has_password:
        password_note = " (write the password, percent-encoded, in place of ***)"
    return (
        f"Django's SMTP settings {', '.join(found)} are set, but unisend does not read "
        f"them; the equivalent is UNISEND_URL = {url!r}{password_note}. "
        "See the migration guide (docs/migration.md)"
    )


class EmailBackend(BaseEmailBackend):  # type: ignore[misc]  # Django ships no type hints
    """Sends Django email through unisend.

    The transport is built (and the configuration checked) when the backend is created;
    :meth:`open` starts a session that :meth:`close` ends, so every message sent in
    between, e.g. inside ``with get_connection() as connection:``, shares one SMTP
    connection. After a send, each Django message carries ``unisend_result`` (the
    :class:`~unisend.SendResult`) or, when ``fail_silently`` swallowed its failure,
    ``unisend_error``.
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        url: str | None = None,
        retry: dict[str, Any] | RetryPolicy | None = None,
        default_sender: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Django 6.1's MAILERS passes ``alias`` and the OPTIONS as keywords; its base class
        # refuses a ``fail_silently`` keyword from MAILERS and deprecates it elsewhere, so
        # the flag is kept here, as Django's own SMTP backend does.
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        set_url, set_retry, set_sender, set_spool = _settings()
        alias = getattr(self, "alias", None)
        where = (
            "settings.UNISEND_URL (or UNISEND['URL'], or the url option)"
            if alias is None
            else f"MAILERS[{alias!r}]['OPTIONS']['url'] (or settings.UNISEND_URL)"
        )
        chosen = url if url is not None else set_url
        if (chosen is None or chosen == "") and not os.environ.get("UNISEND_URL"):
            hint = smtp_settings_hint()
            if hint is not None:
                raise ConfigurationError(f"no unisend URL: set {where}. {hint}")
        self.mailer: Mailer = build_mailer(
            resolve_url(chosen, where),
            default_sender=default_sender if default_sender is not None else set_sender,
            retry=retry_from_config(
                retry if retry is not None else set_retry, "the unisend RETRY setting"
            ),
            spool=set_spool,
        )
        self._session = False

    def open(self) -> bool:
        """Start a session; True if this call started it (Django's convention)."""
        if self._session:
            return False
        self._session = True
        return True

    def close(self) -> None:
        """End the session and close the transport's connections (SMTP: QUIT)."""
        self._session = False
        self.mailer.close()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send ``email_messages``; return how many were accepted.

        All messages are converted first: an invalid one raises
        :class:`~unisend.InvalidMessage` before anything is sent.
        """
        if not email_messages:
            return 0
        converted = [(m, to_message(m)) for m in email_messages if m.recipients()]
        started = self.open()
        sent = 0
        try:
            for original, message in converted:
                try:
                    original.unisend_result = self.mailer.send(message)
                except SendError as exc:
                    if not self.fail_silently:
                        raise
                    original.unisend_error = exc
                    logger.warning("not sent (fail_silently): %s", exc)
                    continue
                sent += 1
        finally:
            if started:
                self.close()
        return sent


def _text(value: object) -> str:
    """Django lazy strings and bytes to str."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    body = _text(message.body) if message.body is not None else ""
    subtype = getattr(message, "content_subtype", "plain")
    text, html = (None, body) if subtype == "html" else (body, None)
    for content, mimetype in getattr(message, "alternatives", None) or ():
        kind = str(mimetype).split(";")[0].strip().lower()
        if kind == "text/html" and html is None:
            html = _text(content)
        elif kind == "text/plain" and not text:
            text = _text(content)
        else:
            raise InvalidMessage(
                f"alternative {kind!r}: unisend sends one text and one html version; "
                "attach other content types with EmailMessage.attach()"
            )
    if text == "" and html is not None:
        text = None  # Django sends no text part for an empty body next to html
    return text, html


def _mime_attachment(part: email.message.Message, index: int) -> Attachment:
    content_type = part.get_content_type()
    if part.is_multipart():
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        if content_type != "message/rfc822" or not isinstance(first, email.message.Message):
            raise InvalidMessage(
                f"attachment {index}: a multipart {content_type} part cannot be attached; "
                "attach its files one by one"
            )
        content = first.as_bytes()
    else:
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
    raw_cid = part.get("Content-ID")
    content_id = str(raw_cid).strip().strip("<>") if raw_cid else None
    disposition = part.get_content_disposition()
    filename = part.get_filename()
    if not filename:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        stem = (content_id or f"attachment-{index}").split("@")[0].replace("/", "_")
        filename = f"{stem}{extension}"
    return Attachment(
        filename=filename,
        content=content,
        content_type=content_type,
        inline=bool(content_id) and disposition != "attachment",
        content_id=content_id,
    )


def _attachments(message: EmailMessage) -> list[Attachment]:
    result = []
    for index, item in enumerate(message.attachments or ()):
        if isinstance(item, email.message.Message):
            result.append(_mime_attachment(item, index))
            continue
        filename, content, mimetype = item
        if content is None:
            raise InvalidMessage(f"attachment {filename!r} has no content")
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        result.append(
            Attachment(
                filename=filename or f"attachment-{index}",
                content=data,
                content_type=mimetype or None,
            )
        )
    return result


def to_message(message: EmailMessage) -> Message:
    """Convert a Django :class:`EmailMessage` (or ``EmailMultiAlternatives``).

    - ``from_email`` is the sender (Django fills it from ``DEFAULT_FROM_EMAIL``); an
      empty one leaves the sender to the backend's ``DEFAULT_SENDER``.
    - ``body`` is the text (or the html with ``content_subtype = "html"``); a
      ``text/html`` alternative is the html. Other alternative types are refused.
    - attachments keep name, bytes and type; ``MIMEBase`` parts keep their
      ``Content-ID`` and become inline parts unless marked ``attachment``.
    - ``extra_headers``: ``From`` and ``Reply-To`` override ``from_email`` and
      ``reply_to`` as in Django; ``Date``, ``Message-ID``, ``MIME-Version`` and
      ``Content-*`` are dropped (unisend writes them; a dropped ``Message-ID`` is
      logged); ``To``, ``Cc``, ``Bcc``, ``Subject`` and ``Sender`` raise
      :class:`~unisend.InvalidMessage`; every other header is kept.
    """
    headers: dict[str, str] = {}
    sender: str | None = _text(message.from_email) if message.from_email else None
    reply_to = [_text(a) for a in message.reply_to or ()]
    for name, value in (message.extra_headers or {}).items():
        lower = str(name).lower()
        if lower == "from":
            sender = _text(value)
        elif lower == "reply-to":
            reply_to = [part.strip() for part in _text(value).split(",") if part.strip()]
        elif lower == "message-id":
            logger.warning(
                "extra header Message-ID %r dropped: unisend sets Message-ID itself; "
                "the id it used is on message.unisend_result.message_id",
                _text(value),
            )
        elif lower in _DROPPED_HEADERS:
            continue
        elif lower in _REFUSED_HEADERS:
            raise InvalidMessage(
                f"extra header {name!r} is not supported: {_REFUSED_HEADERS[lower]}"
            )
        else:
            headers[str(name)] = _text(value)
    text, html = _bodies(message)
    fields: dict[str, Any] = {
        "sender": Address.parse(sender, "from_email") if sender else None,
        "to": [_text(a) for a in message.to or ()],
        "cc": [_text(a) for a in message.cc or ()],
        "bcc": [_text(a) for a in message.bcc or ()],
        "reply_to": reply_to,
        "subject": _text(message.subject or ""),
        "text": text,
        "html": html,
        "attachments": _attachments(message),
        "headers": headers,
    }
    for name in _EXTRA_FIELDS:
        value = getattr(message, name, None)
        if value is not None:
            fields[name] = value
    return Message(**fields)


# ------------------------------------------------------------ delivery-event webhooks

#: Sent once per event a :func:`webhook_view` receives, with ``sender`` the provider name
#: (``"sendgrid"``, ...) and ``event`` the :class:`~unisend.webhooks.DeliveryEvent`. A
#: receiver that raises makes the view fail (HTTP 500), so the provider sends again.
delivery_event = Signal()


def webhook_view(provider: str, **auth: Any) -> Callable[..., Any]:
    """A Django view receiving ``provider``'s delivery-event webhook::

        # urls.py
        path("hooks/postmark/", webhook_view("postmark", basic_auth="hook:s3cret")),

    ``auth`` takes the keywords of :func:`unisend.webhooks.parse_events`
    (``basic_auth``, ``verification_key``, ``signing_secret``, ``token``,
    ``insecure``), checked here, at URLconf load (:class:`~unisend.ConfigurationError`).
    The view is CSRF-exempt and takes POST only (405 otherwise). It answers 401 when the
    request fails verification, 400 when the body is malformed, and otherwise sends
    :data:`delivery_event` once per event, in order, then answers 200. It reads the body
    itself, up to the 10 MB webhook limit, so ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not
    cut large SendGrid or Brevo batches.
    """
    from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
    from django.views.decorators.csrf import csrf_exempt

    from ..webhooks import WebhookAuthError, WebhookError
    from ..webhooks._decode import MAX_BODY
    from ..webhooks._receiver import Receiver

    receiver = Receiver(provider, **auth)

    def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            events = receiver.parse(request.read(MAX_BODY + 1), request.headers)
        except WebhookError as error:
            status = 401 if isinstance(error, WebhookAuthError) else 400
            logger.warning("%s webhook refused (%d): %s", receiver.provider, status, error)
            response = HttpResponse(str(error), status=status, content_type="text/plain")
            if status == 401 and receiver.challenge:
                response["WWW-Authenticate"] = receiver.challenge
            return response
        for event in events:
            delivery_event.send(sender=receiver.provider, event=event)
        return HttpResponse(status=200)

    view.__name__ = view.__qualname__ = f"unisend_{receiver.provider}_webhook"
    return csrf_exempt(view)  # type: ignore[no-any-return]


__all__ = [
    "DJANGO_SMTP_SETTINGS",
    "SETTINGS_KEYS",
    "EmailBackend",
    "delivery_event",
    "smtp_settings_hint",
    "to_message",
    "webhook_view",
]
