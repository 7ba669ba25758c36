"""Search everything reachable from an exception (or a result) for a secret, the way an
error tracker would serialise it.

``leaks(error, secrets)`` walks the exception graph: ``args``, ``__dict__`` (so
``.request.headers`` of an httpx error, ``.doc`` of a JSON error, ``.response``),
``__cause__``, ``__context__``, ``__notes__``, the items of mappings (``httpx.Headers``
too), sequences and sets, bytes, and the attributes of any nested object; every object's
``str`` and ``repr`` are searched as well. Tracebacks are walked the way Sentry records
them: the local variables of unisend's own frames, containers item by item and any
other object by its ``repr``. It returns where each secret was found, e.g.
``["<error>.__cause__.__dict__['_request'].__dict__['headers']['api-key']"]``.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import unisend

UNISEND_DIR = str(Path(unisend.__file__).resolve().parent)
MAX_DEPTH = 25
_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


class _Walk:
    def __init__(self, secrets: Iterable[str], frames: bool) -> None:
        self.secrets = [s for s in secrets if s]
        self.frames = frames
        self.seen: set[int] = set()
        self.found: list[str] = []

    def text(self, value: str, path: str) -> None:
        for secret in self.secrets:
            if secret in value:
                self.found.append(f"{path} holds {secret!r}")

    def visit(self, value: Any, path: str, depth: int = 0) -> None:
        if isinstance(value, str):
            self.text(value, path)
            return
        if isinstance(value, (bytes, bytearray, memoryview)):
            self.text(bytes(value).decode("latin-1"), path)
            return
        if value is None or isinstance(value, (bool, int, float, complex)):
            return
        if id(value) in self.seen or depth > MAX_DEPTH or isinstance(value, _SKIP):
            return
        self.seen.add(id(value))
        for shown, how in ((repr, "repr"), (str, "str")):
            try:
                self.text(shown(value), f"{how}({path})")
            except Exception:  # a repr that fails shows nothing
                pass
        if isinstance(value, BaseException):
            self.exception(value, path, depth)
        if isinstance(value, types.TracebackType):
            if self.frames:
                self.traceback(value, path)
            return
        if isinstance(value, Mapping):
            for key, item in list(value.items()):
                self.visit(key, f"{path}[{key!r}] (key)", depth + 1)
                self.visit(item, f"{path}[{key!r}]", depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for index, item in enumerate(value):
                self.visit(item, f"{path}[{index}]", depth + 1)
        for name in getattr(type(value), "__slots__", ()):
            if hasattr(value, name):
                self.visit(getattr(value, name), f"{path}.{name}", depth + 1)
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):
            for name, item in attributes.items():
                self.visit(item, f"{path}.{name}", depth + 1)

    def exception(self, error: BaseException, path: str, depth: int) -> None:
        self.visit(error.args, f"{path}.args", depth + 1)
        self.visit(error.__cause__, f"{path}.__cause__", depth + 1)
        self.visit(error.__context__, f"{path}.__context__", depth + 1)
        self.visit(getattr(error, "__notes__", None), f"{path}.__notes__", depth + 1)
        if error.__traceback__ is not None and self.frames:
            self.traceback(error.__traceback__, f"{path}.__traceback__")

    def traceback(self, tb: types.TracebackType | None, path: str) -> None:
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.startswith(UNISEND_DIR):
                where = f"{path}<{frame.f_code.co_name}>"
                for name, value in frame.f_locals.items():
                    self.local(value, f"{where}.{name}", 0)
            tb = tb.tb_next

    def local(self, value: Any, path: str, depth: int) -> None:
        """A frame local as an error tracker records it: containers item by item (to a
        few levels), anything else by its repr."""
        if depth > 6:
            return
        if isinstance(value, str):
            self.text(value, path)
        elif isinstance(value, (bytes, bytearray)):
            self.text(bytes(value).decode("latin-1"), path)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.local(key, f"{path}[{key!r}] (key)", depth + 1)
                self.local(item, f"{path}[{key!r}]", depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for index, item in enumerate(value):
                self.local(item, f"{path}[{index}]", depth + 1)
        else:
            try:
                self.text(repr(value), f"repr({path})")
            except Exception:  # a repr that fails shows nothing
                pass


def leaks(
    root: object, secrets: Iterable[str], name: str = "<error>", *, frames: bool = True
) -> list[str]:
    """Where any of ``secrets`` is reachable from ``root``; empty when none is.

    ``frames=False`` skips the frame locals: a configuration error is raised while
    ``from_url(url)`` runs, and its argument is the URL the caller passed in (the
    caller's own frames hold it too), so URL tests search the exception graph only.
    """
    walk = _Walk(secrets, frames)
    walk.visit(root, name)
    return walk.found


__all__ = ["leaks"]
