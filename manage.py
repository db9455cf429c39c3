#!/usr/bin/env python
"""Django's command-line utility for Tributary."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    # manage.py is the developer's and operator's tool: without DEBUG in the
    # environment it runs in development mode, so `manage.py makemigrations`
    # works on a bare checkout. The servers (wsgi/asgi, Celery) default to
    # production and refuse to start without SECRET_KEY.
    os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
