"""The one order ingestion engine and the one copy of its rules.

``rules`` (values, staleness, consent, fulfillment), ``events`` (what an order records, and the
payloads), ``figures`` (a customer's derived figures): pure, public, used by every writer of
commerce rows. ``engine`` runs orders through them as a batch (``replay`` reads and replays,
``writes`` writes, ``db`` spells the statements for PostgreSQL or SQLite); ``order_ingest`` is a
batch of one. The services in ``orders.services`` are the doors; nothing else writes orders.
"""
