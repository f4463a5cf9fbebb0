"""The shopper shell: the base of every public page a shopper reaches under ``/s/<slug>/``
(signed links, order lookup, branded headers and 404). Apps put their pages on it in their own
``shopper_views.py`` and ``shopper_urls.py``."""
