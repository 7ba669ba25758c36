"""SendResult and Attempt: immutable, slotted, and cheap to keep by the thousand."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from unisend import Attempt, Mailer, Message, SendResult
from unisend._delivery import with_attempts
from unisend.transports import MemoryTransport

MakeMessage = Callable[..., Message]


def test_results_with_nothing_to_report_share_one_read_only_mapping() -> None:
    first = SendResult(message_id="a", transport="t")
    second = SendResult(message_id="b", transport="t")
    assert first.rejected is second.rejected is first.recipient_ids
    assert first.rejected == {} and isinstance(first.rejected, dict) and not first.rejected
    assert json.dumps(first.rejected) == "{}"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("a@example.com", "x"),
        lambda d: d.update({"a@example.com": "x"}),
        lambda d: d.setdefault("a@example.com", "x"),
        lambda d: d.pop("a@example.com"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
        lambda d: d.__delitem__("a@example.com"),
        lambda d: d.__ior__({"a@example.com": "x"}),
    ],
)
def test_the_shared_mapping_refuses_every_change_and_says_how_to_copy(change: object) -> None:
    result = SendResult(message_id="a", transport="t")
    with pytest.raises(TypeError, match=r"read-only.*dict\(result\.rejected\)"):
        change(result.rejected)  # type: ignore[operator]
    assert result.rejected == {} and SendResult(message_id="b", transport="t").rejected == {}
    copied = dict(result.rejected)
    copied["a@example.com"] = "x"  # a copy is an ordinary dict
    assert copied == {"a@example.com": "x"}


def test_mappings_given_to_a_result_stay_the_callers_dicts() -> None:
    rejected = {"b@example.com": "550 no such user"}
    result = SendResult(message_id="a", transport="t", rejected=rejected)
    assert result.rejected is rejected and type(result.rejected) is dict


def test_results_pickle_copy_and_convert_like_any_dataclass() -> None:
    attempt = Attempt("smtp", None, 0.25)
    result = SendResult(message_id="<id@x>", transport="smtp", attempts=(attempt,))
    for clone in (
        pickle.loads(pickle.dumps(result)),
        copy.copy(result),
        copy.deepcopy(result),
        dataclasses.replace(result),
    ):
        assert clone == result
        with pytest.raises(TypeError):
            clone.rejected["a"] = "b"
    assert dataclasses.asdict(result)["attempts"][0]["elapsed"] == 0.25
    assert dataclasses.asdict(result)["rejected"] == {}


def test_results_are_frozen_and_have_no_instance_dict() -> None:
    result = SendResult(message_id="a", transport="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.message_id = "b"  # type: ignore[misc]
    assert not hasattr(result, "__dict__") and not hasattr(Attempt("t", None, 0.0), "__dict__")


def test_with_attempts_copies_every_field_of_a_subclass() -> None:
    @dataclass(frozen=True)
    class Detailed(SendResult):
        region: str = "eu"

    result = Detailed(message_id="a", transport="t", rejected={"x@example.com": "no"})
    object.__setattr__(result, "note", "kept")  # a subclass without slots has a __dict__
    attempt = Attempt("t", None, 0.1)
    clone = with_attempts(result, (attempt,))
    assert type(clone) is Detailed
    assert (clone.message_id, clone.region, clone.rejected) == ("a", "eu", result.rejected)
    assert clone.attempts == (attempt,) and result.attempts == ()
    assert clone.note == "kept"  # type: ignore[attr-defined]


def test_a_mailer_result_carries_its_trail_and_the_shared_mapping(
    make_message: MakeMessage,
) -> None:
    with Mailer(MemoryTransport()) as mailer:
        result = mailer.send(make_message())
    assert [attempt.transport for attempt in result.attempts] == ["memory"]
    assert result.rejected == {} and result.recipient_ids == {}
    # the copy that attaches the trail keeps the shared mapping, not a new dict
    assert result.rejected is SendResult(message_id="x", transport="t").rejected
