"""What a send returns: :class:`SendResult` and the :class:`Attempt` trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ._errors import SendError


class ReadOnlyDict(dict[str, str]):
    """A ``dict`` that refuses to change: the default of a result's ``rejected`` and
    ``recipient_ids`` when there is nothing to report.

    A result is immutable, and most have nothing in either mapping: all of them share
    one empty instance instead of two new dicts each. At thousands of sends a second, the
    objects a send leaves behind set how often the garbage collector walks everything in
    flight (benchmarks/RESULTS.md, "One delivery engine, third pass: the garbage collector").
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "a SendResult's mappings are read-only; copy one to change it, "
            "e.g. dict(result.rejected)"
        )

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self) -> tuple[type[ReadOnlyDict], tuple[dict[str, str]]]:
        # pickle and copy rebuild it with its items (dict's own way sets them one by one)
        return (type(self), (dict(self),))


#: The shared empty default (see :class:`ReadOnlyDict`).
NOTHING: ReadOnlyDict = ReadOnlyDict()


def _nothing() -> dict[str, str]:
    return NOTHING


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one route."""

    #: ``.name`` of the route that was tried.
    transport: str
    #: The error of this try, or None when it succeeded.
    error: SendError | None
    #: Seconds the try took (monotonic clock).
    elapsed: float
    #: True when the provider may have accepted the message although the try failed.
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class SendResult:
    """An accepted message.

    ``message_id`` is the provider's id (for SMTP, the ``Message-ID`` header, angle
    brackets included); ``rejected`` maps recipients refused while others were accepted
    to the reason; ``recipient_ids`` keeps per-recipient ids where the provider gives them.
    A result is immutable: when there is nothing to report, both mappings are one shared
    empty read-only ``dict``.
    """

    message_id: str | None
    transport: str
    rejected: dict[str, str] = field(default_factory=_nothing)
    attempts: tuple[Attempt, ...] = ()
    recipient_ids: dict[str, str] = field(default_factory=_nothing)
    #: True when no route accepted the message now and it was queued in the mailer's spool.
    queued: bool = False
    #: The spool entry's id when ``queued``.
    spool_id: str | None = None


__all__ = ["Attempt", "SendResult"]
