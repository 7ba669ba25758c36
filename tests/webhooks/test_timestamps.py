"""Timestamps as aware UTC from each provider's format. Postmark's ISO 8601 with seven
fractional digits is read by unisend's own parser, not ``datetime.fromisoformat`` (which
reads it only from Python 3.11), so Python 3.10 gets the same answers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from unisend.webhooks import WebhookError
from unisend.webhooks._decode import from_iso, from_unix

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2016-04-27T16:28:50.3963933-04:00",
            datetime(2016, 4, 27, 20, 28, 50, 396393, tzinfo=UTC),
        ),
        ("2019-11-05T16:33:54.9070259Z", datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)),
        ("2019-11-05T16:33:54Z", datetime(2019, 11, 5, 16, 33, 54, tzinfo=UTC)),
        ("2019-11-05T16:33:54.5+0530", datetime(2019, 11, 5, 11, 3, 54, 500000, tzinfo=UTC)),
        ("2019-11-05T16:33:54,25+01", datetime(2019, 11, 5, 15, 33, 54, 250000, tzinfo=UTC)),
        ("2019-11-05 16:33:54", datetime(2019, 11, 5, 16, 33, 54, tzinfo=UTC)),
        ("2019-11-05T16:33", datetime(2019, 11, 5, 16, 33, tzinfo=UTC)),
    ],
)
def test_iso_forms(text: str, expected: datetime) -> None:
    parsed = from_iso(text, "Postmark")
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2019-11-05", "05/11/2019 16:33", "2019-11-05T25:00:00Z", "2019-11-05T16:33:54+99:00", 12345],
)
def test_bad_iso(text: object) -> None:
    with pytest.raises(WebhookError):
        from_iso(text, "Postmark")


def test_unix_seconds_milliseconds_and_absence() -> None:
    assert from_unix(1520363423000, "Brevo", scale=1000) == datetime(
        2018, 3, 6, 19, 10, 23, tzinfo=UTC
    )
    assert from_unix(1600112492, "SendGrid") == datetime(2020, 9, 14, 19, 41, 32, tzinfo=UTC)
    assert from_unix("1600112492", "SendGrid") == datetime(2020, 9, 14, 19, 41, 32, tzinfo=UTC)
    assert from_unix(None, "SendGrid") is None and from_iso(None, "Postmark") is None
    with pytest.raises(WebhookError):
        from_unix(True, "SendGrid")
