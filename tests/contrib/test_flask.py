"""The Flask extension, driven through Flask's test client."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify, request

from unisend import ConfigurationError, Message
from unisend.contrib.flask import EXTENSION_KEY, Unisend
from unisend.testing import Outbox
from unisend.transports import MemoryTransport


def create_app(mail: Unisend, **config: object) -> Flask:
    """An app factory, as users write them."""
    app = Flask("shop")
    app.config.update(UNISEND_URL="memory://", UNISEND_DEFAULT_SENDER="Shop <shop@example.com>")
    app.config.update(config)
    mail.init_app(app)

    @app.post("/signup")
    def signup() -> object:
        result = mail.send(Message(to=request.form["email"], subject="Welcome", text="Hello!"))
        return jsonify(message_id=result.message_id, transport=result.transport)

    return app


def test_factory_send_returns_result_and_records() -> None:
    mail = Unisend()
    app = create_app(mail)
    with app.app_context(), mail.record_messages() as outbox:
        response = app.test_client().post("/signup", data={"email": "bob@example.com"})
    assert response.status_code == 200
    assert response.json is not None and response.json["transport"] == "memory"
    assert response.json["message_id"].endswith("@unisend.memory>")
    (message,) = outbox
    assert str(message.sender) == "Shop <shop@example.com>"
    assert [a.email for a in message.to] == ["bob@example.com"]
    transport = app.extensions[EXTENSION_KEY].mailer.transport
    assert isinstance(transport, MemoryTransport) and transport.outbox == [message]


def test_recording_stops_after_the_block() -> None:
    mail = Unisend()
    app = create_app(mail)
    with app.app_context():
        with mail.record_messages() as outbox:
            mail.send(Message(to="a@example.com", subject="in", text="x"))
        mail.send(Message(to="a@example.com", subject="out", text="x"))
    assert [m.subject for m in outbox] == ["in"]


def test_one_extension_serves_two_apps() -> None:
    mail = Unisend()
    first = create_app(mail, UNISEND_DEFAULT_SENDER="first@example.com")
    second = create_app(mail, UNISEND_DEFAULT_SENDER="second@example.com")
    for app in (first, second):
        with app.app_context(), mail.record_messages() as outbox:
            app.test_client().post("/signup", data={"email": "c@example.com"})
        assert outbox[0].sender is not None
        assert outbox[0].sender.email == app.config["UNISEND_DEFAULT_SENDER"]


def test_direct_app_and_retry_config() -> None:
    app = Flask("direct")
    app.config.update(UNISEND_URL="memory://", UNISEND_RETRY={"attempts": 1, "backoff": 0})
    mail = Unisend(app)
    assert mail.mailer.retry.attempts == 1  # no app context needed with Unisend(app)
    result = mail.send(Message(sender="a@example.com", to="b@example.com", subject="s", text="t"))
    assert result.transport == "memory"


def test_suppress_send_uses_memory_whatever_the_url() -> None:
    app = Flask("quiet")
    app.config.update(UNISEND_URL="smtp://127.0.0.1:9?security=none", UNISEND_SUPPRESS_SEND=True)
    mail = Unisend(app)
    mail.send(Message(sender="a@example.com", to="b@example.com", subject="s", text="t"))
    assert isinstance(mail.mailer.transport, MemoryTransport)
    assert len(mail.mailer.transport.outbox) == 1


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"UNISEND_URL": "bogus://"}, "unknown URL scheme"),
        ({"UNISEND_URL": None}, "UNISEND_URL"),
        ({"UNISEND_RETRY": {"atempts": 2}}, "atempts"),
        ({"UNISEND_RETRY": {"attempts": "2"}}, "number"),
        ({"UNISEND_DEFAULT_SENDER": "nobody"}, "default sender"),
        ({"UNISEND_SUPPRESS_SEND": "yes"}, "SUPPRESS"),
    ],
)
def test_bad_config_fails_at_init_app(config: dict[str, object], match: str) -> None:
    app = Flask("bad")
    app.config.update(UNISEND_URL="memory://")
    app.config.update(config)
    with pytest.raises(ConfigurationError, match=match):
        Unisend(app)


def test_send_without_init_app_says_what_to_do() -> None:
    mail = Unisend()
    app = Flask("bare")
    with app.app_context(), pytest.raises(ConfigurationError, match="init_app"):
        mail.send(Message(sender="a@example.com", to="b@example.com", subject="s", text="t"))


def test_unisend_outbox_fixture_captures_flask_sends(unisend_outbox: Outbox) -> None:
    app = Flask("real")
    app.config.update(UNISEND_URL="smtp://127.0.0.1:9?security=none")  # never contacted
    mail = Unisend(app)
    mail.send(Message(sender="a@example.com", to="b@example.com", subject="captured", text="t"))
    unisend_outbox.assert_sent(count=1, subject="captured", to="b@example.com")


@pytest.mark.parametrize(
    ("url", "secret", "words"),
    [
        ("smtp://AKIA:BH4x/yz+SECRET@email-smtp.example.com:587", "BH4x/yz+SECRET", "%2F"),
        ("mailjet://KEY:SEC/RET@default", "SEC/RET", "%2F"),
        ("smtp://user:pw-77@[::1", "pw-77", "brackets"),
    ],
)
def test_a_bad_url_at_start_up_never_shows_the_secret(url: str, secret: str, words: str) -> None:
    app = Flask("leaky")
    app.config.update(UNISEND_URL=url)
    with pytest.raises(ConfigurationError) as caught:
        Unisend(app)
    assert words in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
