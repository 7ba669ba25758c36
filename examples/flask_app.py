"""A Flask app that sends a welcome email from a view, built with an app factory.

Run it::

    UNISEND_URL="smtp://user:pass@smtp.example.com:587" \\
        flask --app examples/flask_app.py run --port 5000
    curl -X POST -d email=bob@example.com http://127.0.0.1:5000/signup

Without ``UNISEND_URL`` mail goes to the local sandbox. The extension reads
``UNISEND_URL``, ``UNISEND_DEFAULT_SENDER`` and ``UNISEND_RETRY`` from the app config;
here they come from the environment.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request

from unisend import InvalidMessage, Message, SendError
from unisend.contrib.flask import Unisend

mail = Unisend()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory: ``flask --app examples/flask_app.py`` finds and calls it."""
    app = Flask(__name__)
    app.config.update(
        UNISEND_URL=os.environ.get("UNISEND_URL", "sandbox://"),
        UNISEND_DEFAULT_SENDER="Example Shop <shop@example.com>",
        UNISEND_RETRY={"attempts": 2, "backoff": 0.2},
    )
    app.config.update(config or {})
    mail.init_app(app)

    @app.post("/signup")
    def signup() -> Any:
        try:
            message = Message(
                to=request.form.get("email", ""),
                subject="Welcome to the shop",
                text="Thanks for signing up!",
                html="<p>Thanks for signing up!</p>",
            )
        except InvalidMessage as exc:
            return jsonify(error=str(exc)), 400
        try:
            result = mail.send(message)
        except SendError as exc:
            return jsonify(error=f"could not send: {exc.message}"), 502
        return jsonify(message_id=result.message_id, transport=result.transport)

    return app
