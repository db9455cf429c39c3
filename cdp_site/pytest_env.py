"""pytest plugin (loaded with ``-p``): tests run in development mode by default.

It must run before pytest-django imports the settings, which a conftest.py
would be too late for.
"""

import os

os.environ.setdefault("DEBUG", "true")
