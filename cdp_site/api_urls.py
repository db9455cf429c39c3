"""Everything under /api/v1/: each app's ``api`` module registers on the router.

To add an app's endpoints, import its ``api`` module here (one line).
"""

import consent.api  # noqa: F401  (registers consent and privacy requests)
import customers.api.duplicates  # noqa: F401  (registers duplicate suggestions, with why)
import segments.api  # noqa: F401  (registers segments and their members)
import sources.api  # noqa: F401  (registers profiles, customers, sources)
from core.api.router import router

urlpatterns = router.urls
