#!/usr/bin/env python
"""A minimal Django project whose email goes out through unisend.

Run it (from the repository root)::

    export UNISEND_URL="smtp://user:pass@smtp.example.com:587"   # default: sandbox://
    python examples/django_project/manage.py sendtestemail bob@example.com
    python examples/django_project/manage.py sendtestemail --admins
    python examples/django_project/manage.py runserver   # then POST email=... to /contact/

The settings that matter are in ``project/settings.py``: ``EMAIL_BACKEND`` and
``UNISEND``. No database is needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Django's manage.py, with this folder on the path."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
