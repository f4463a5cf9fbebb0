"""The WSGI application for gunicorn (or any WSGI server).

Once Django is set up and every URL's view imported, what start-up allocated (some 130,000
long-lived objects: modules, classes, settings, URL patterns) is moved out of the cyclic garbage
collector's reach with ``gc.freeze()``. Otherwise each full collection walks all of them, a pause
measured at 65 ms, which lands in the middle of whichever request triggered it.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view now, before the freeze
gc.collect()  # start-up's garbage goes first, or it would be kept for ever
gc.freeze()
