"""One mail transaction on an open session: MAIL FROM, RCPT TO..., DATA, and the body
written as dot-stuffed DATA content, chunk by chunk, without a copy of the whole message.
"""

from __future__ import annotations

import re
import smtplib

from ..._errors import MessageRejected, SendError, TransientError
from ._pool import Pooled
from ._replies import END_OF_DATA, Replies

LEADING_DOT = re.compile(rb"(?m)^\.")
_DOT_AFTER_LF = re.compile(rb"\n\.")


class RetryOnFreshConnection(Exception):
    """The connection failed before any of the message was sent: safe to retry once."""

    def __init__(self, error: SendError) -> None:
        super().__init__(str(error))
        self.error = error


def reset(pooled: Pooled, code: int = 0) -> None:
    """RSET after a refused transaction; a connection that cannot is dropped, as is one
    the server is closing (421)."""
    if code == 421:
        pooled.drop()
        return
    try:
        code, _ = pooled.smtp.docmd("RSET")
    except (smtplib.SMTPException, OSError):
        code = 0
    if code != 250:
        pooled.drop()


def transaction(
    pooled: Pooled,
    replies: Replies,
    sender: str,
    recipients: list[str],
    chunks: tuple[bytes, ...],
    smtputf8: bool,
) -> dict[str, str]:
    """MAIL, RCPT..., DATA; returns the refused recipients (some, never all).

    ``chunks`` is the rendered message (:attr:`Rendered.chunks`), written in order.
    Raises :class:`RetryOnFreshConnection` when the connection failed before the body.
    """
    conn = pooled.smtp
    options: list[str] = []
    if smtputf8:
        if not conn.has_extn("smtputf8"):
            raise replies.error(
                MessageRejected,
                "an address has a non-ASCII local part, which needs SMTPUTF8, and this "
                "server does not offer it; nothing was sent",
            )
        options.append("SMTPUTF8")
        if conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
    if conn.has_extn("size"):
        options.append(f"SIZE={sum(map(len, chunks))}")
    conn.command_encoding = "utf-8" if smtputf8 else "ascii"
    stage = "MAIL FROM"
    pooled.messages += 1
    try:
        code, reply = conn.docmd("MAIL", f"FROM:<{sender}>" + "".join(f" {o}" for o in options))
        if code == 421:  # the server is closing this connection, e.g. after idling
            pooled.drop()
            raise RetryOnFreshConnection(replies.reply(code, reply, stage))
        if code != 250:
            reset(pooled, code)
            raise replies.reply(code, reply, stage)
        stage = "RCPT TO"
        rejected: dict[str, str] = {}
        codes: list[int] = []
        texts: list[str] = []
        for recipient in recipients:
            code, reply = conn.docmd("RCPT", f"TO:<{recipient}>")
            if code not in (250, 251):
                text = " ".join(reply.decode("utf-8", "replace").split())
                rejected[recipient] = f"{code} {text}"
                codes.append(code)
                texts.append(text)
        if len(rejected) == len(recipients):
            reset(pooled, 421 if 421 in codes else 0)
            raise replies.all_refused(codes, texts, rejected)
        stage = "DATA"
        code, reply = conn.docmd("DATA")
        if code != 354:
            reset(pooled, code)
            raise replies.reply(code, reply, stage)
        stage = "BODY"
        if len(chunks) == 1:
            conn.send(LEADING_DOT.sub(b"..", chunks[0]) + b".\r\n")
        else:
            send_chunks(conn, chunks)
        code, reply = conn.getreply()
        if code != 250:
            if code == 421:
                pooled.drop()
            raise replies.reply(code, reply, END_OF_DATA)  # the transaction is over
        return rejected
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        pooled.drop()
        if stage == "BODY":
            raise replies.error(
                TransientError,
                "the connection was lost after the message was sent, before the server "
                "confirmed it; it may have been delivered",
                ambiguous=True,
            ) from exc
        raise RetryOnFreshConnection(replies.exception(exc, stage)) from exc
    finally:
        conn.command_encoding = "ascii"


def send_chunks(conn: smtplib.SMTP, chunks: tuple[bytes, ...]) -> None:
    """Write a message in several chunks as DATA content, dot-stuffed, then the end
    marker: one chunk at a time, so no copy of the whole message is made.

    A dot is doubled where it starts a line; a line may start at a chunk's first byte
    (when the previous chunk ended a line), which is checked across the boundary.
    """
    at_line_start = True
    for chunk in chunks:
        if not chunk:
            continue
        if at_line_start and chunk[:1] == b".":
            conn.send(b".")
        conn.send(_DOT_AFTER_LF.sub(b"\n..", chunk))
        at_line_start = chunk[-1:] == b"\n"
    conn.send(b".\r\n" if at_line_start else b"\r\n.\r\n")


__all__ = ["LEADING_DOT", "RetryOnFreshConnection", "reset", "send_chunks", "transaction"]
