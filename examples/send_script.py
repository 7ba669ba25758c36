"""Send one email from a script, through whatever route ``UNISEND_URL`` names.

Run it::

    UNISEND_URL="smtp://user:pass@smtp.example.com:587" \\
        python examples/send_script.py bob@example.com --subject "Hi" --text "Hello Bob"

Without ``UNISEND_URL`` the message goes to the local sandbox (``sandbox://``); read
it back with ``python -m unisend sandbox list``. Prints the provider's message id and
the route that accepted it; exits 1 with the error (never a credential) on failure.
"""

from __future__ import annotations

import argparse
import sys

from unisend import Attachment, Mailer, Message, SendError, UnisendError


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, send, report."""
    parser = argparse.ArgumentParser(description="Send one email through unisend.")
    parser.add_argument("to", nargs="+", help="recipient address(es)")
    parser.add_argument("--sender", default="Example <noreply@example.com>")
    parser.add_argument("--subject", default="Hello from unisend")
    parser.add_argument("--text", default="This message was sent by examples/send_script.py.")
    parser.add_argument("--html", default=None)
    parser.add_argument("--attach", action="append", default=[], metavar="PATH")
    args = parser.parse_args(argv)

    try:
        message = Message(
            sender=args.sender,
            to=args.to,
            subject=args.subject,
            text=args.text,
            html=args.html,
            attachments=[Attachment.from_path(path) for path in args.attach],
        )
        with Mailer.from_env() as mailer:
            result = mailer.send(message)
    except SendError as exc:
        print(f"not sent: {exc}", file=sys.stderr)
        return 1
    except UnisendError as exc:  # a bad address or URL: say what to fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"sent via {result.transport}: {result.message_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
