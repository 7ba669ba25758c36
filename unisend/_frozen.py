"""Read-only containers for the fields of a frozen :class:`~unisend.Message`.

``Message`` is a frozen model, but a frozen model still hands out its lists and dicts,
and a header added to them after validation would skip every check. So the model keeps
:class:`FrozenList` and :class:`FrozenDict` instead: subclasses of ``list`` and
``dict`` (so ``json.dumps``, pydantic's serializers, ``isinstance`` checks and
comparisons such as ``m.tags == ["a"]`` keep working) whose every mutating method
raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")

_READ_ONLY = (
    "a Message cannot be changed after it is built; make a changed copy with "
    "message.model_copy(update={...}), which validates the new values"
)


class FrozenList(list[_V]):
    """A ``list`` that refuses every change (``TypeError``); hashable when its items
    are. Reads, iteration, slicing (which gives a plain list), ``json.dumps`` and
    pickling work as for a ``list``."""

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError(_READ_ONLY)

    def __setitem__(self, index: Any, value: Any) -> NoReturn:
        self._refuse()

    def __delitem__(self, index: Any) -> NoReturn:
        self._refuse()

    def __iadd__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __imul__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def append(self, item: Any) -> NoReturn:
        self._refuse()

    def extend(self, items: Any) -> NoReturn:
        self._refuse()

    def insert(self, index: Any, item: Any) -> NoReturn:
        self._refuse()

    def pop(self, *args: Any) -> NoReturn:
        self._refuse()

    def remove(self, item: Any) -> NoReturn:
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def sort(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def reverse(self) -> NoReturn:
        self._refuse()

    def copy(self) -> list[_V]:
        """A plain, changeable ``list`` with the same items."""
        return list(self)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


class FrozenDict(dict[_K, _V]):
    """A ``dict`` that refuses every change (``TypeError``); hashable when its values
    are. Reads, iteration, ``dict(frozen)``, ``json.dumps`` and pickling work as for a
    ``dict``."""

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError(_READ_ONLY)

    def __setitem__(self, key: _K, value: _V) -> NoReturn:
        self._refuse()

    def __delitem__(self, key: _K) -> NoReturn:
        self._refuse()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def pop(self, *args: Any) -> NoReturn:
        self._refuse()

    def popitem(self) -> NoReturn:
        self._refuse()

    def setdefault(self, *args: Any) -> NoReturn:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def copy(self) -> dict[_K, _V]:
        """A plain, changeable ``dict`` with the same items."""
        return dict(self)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy rebuild from the items instead of calling __setitem__
        return (type(self), (dict(self),))


#: The empty FrozenDict, shared (it cannot change).
EMPTY: FrozenDict[Any, Any] = FrozenDict()
#: The empty FrozenList, shared.
NONE: FrozenList[Any] = FrozenList()


def freeze(value: Any) -> Any:
    """``value`` with every mapping made a :class:`FrozenDict` and every list a
    :class:`FrozenList`, all the way down (for free-form data such as
    ``template_data``); tuples keep their type, their items frozen too."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(item) for item in value)
    if isinstance(value, tuple):
        return tuple(freeze(item) for item in value)
    return value


__all__ = ["EMPTY", "NONE", "FrozenDict", "FrozenList", "freeze"]
