"""SMTP: :class:`SMTPTransport` and its ``smtp://`` / ``smtps://`` URL factory.

Modules, one job each: ``_transport`` (options, send loop), ``_from_url`` (URLs),
``_session`` (connect, EHLO, STARTTLS, AUTH, QUIT), ``_sasl`` (credentials and the
PLAIN, LOGIN, CRAM-MD5, XOAUTH2 exchanges), ``_pool`` (connection pool),
``_transaction`` (MAIL, RCPT, DATA, dot-stuffing) and ``_replies`` (replies -> errors).
"""

from __future__ import annotations

from ._from_url import from_spec
from ._sasl import MECHANISMS
from ._transport import SECURITY_MODES, SMTPTransport

__all__ = ["MECHANISMS", "SECURITY_MODES", "SMTPTransport", "from_spec"]
