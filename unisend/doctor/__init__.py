"""``unisend doctor``: say why mail does not leave, and what to do.

>>> from unisend import diagnose
>>> report = diagnose("memory://", timeout=2)
>>> report.check("config").status
'warn'

``diagnose()`` / ``adiagnose()`` return a :class:`Diagnosis` of :class:`Check` objects
(ids: config, dns, connect, greeting, tls, certificate, auth, api-key, mx, spf, dkim,
dmarc, blocklist). Modules load on first use, and dnspython (extra ``unisend[doctor]``)
only when a DNS record is looked up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._model import Check, Diagnosis
    from ._run import adiagnose, diagnose

_LAZY = {
    "Check": "unisend.doctor._model",
    "Diagnosis": "unisend.doctor._model",
    "adiagnose": "unisend.doctor._run",
    "diagnose": "unisend.doctor._run",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["Check", "Diagnosis", "adiagnose", "diagnose"]
