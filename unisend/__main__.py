"""``python -m unisend``: the command line (see :mod:`unisend.cli`)."""

from __future__ import annotations

if __name__ == "__main__":
    from .cli import main

    raise SystemExit(main())
