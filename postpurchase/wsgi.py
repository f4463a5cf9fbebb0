"""The WSGI application for gunicorn (or any WSGI server).

Under gunicorn it refuses to start outside production unless told otherwise: without
``PRODUCTION=true`` the settings are the embedded mode's (``DEBUG`` on by default, a
``SECRET_KEY`` anyone can read in the source), fine for ``runserver`` on a laptop and dangerous
on a server, which is where gunicorn runs (the image's default command).
``ALLOW_INSECURE_EMBEDDED=true`` lets a trial or a benchmark run the embedded mode under
gunicorn all the same.

Once Django is set up and every URL's view imported, what start-up allocated (some 130,000
long-lived objects: modules, classes, settings, URL patterns) is moved out of the cyclic garbage
collector's reach with ``gc.freeze()``. Otherwise each full collection walks all of them, a pause
measured at 65 ms, which lands in the middle of whichever request triggered it.
"""

import gc
import os
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

INSECURE_UNDER_GUNICORN = (
    "Refusing to serve under gunicorn outside production: without PRODUCTION=true the settings "
    "are the embedded mode's (DEBUG on unless DEBUG=false, and a SECRET_KEY published in the "
    "source). Set PRODUCTION=true with the variables it requires (.env.example, "
    "docs/operations.md), or ALLOW_INSECURE_EMBEDDED=true to run the embedded mode under "
    "gunicorn on a machine of your own."
)


def refuse_insecure_gunicorn() -> None:
    # gunicorn's arbiter imported itself before loading us; runserver and the tests do not.
    if "gunicorn.arbiter" in sys.modules and not (
        settings.PRODUCTION or settings.ALLOW_INSECURE_EMBEDDED
    ):
        raise ImproperlyConfigured(INSECURE_UNDER_GUNICORN)


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
refuse_insecure_gunicorn()
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view now, before the freeze
gc.collect()  # start-up's garbage goes first, or it would be kept for ever
gc.freeze()
