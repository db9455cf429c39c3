"""The ASGI application, served by ``gunicorn -c deploy/gunicorn.conf.py``."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from cdp_site.serving import BodyLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
django_application = get_asgi_application()

from sources.personalization.warm import WarmReads  # noqa: E402 (needs the apps loaded)

# an upload may be TRIBUTARY_MAX_UPLOAD_MB, plus 1 MB for its form fields
application = BodyLimit(
    WarmReads(django_application), max_bytes=(settings.TRIBUTARY_MAX_UPLOAD_MB + 1) * 2**20
)
