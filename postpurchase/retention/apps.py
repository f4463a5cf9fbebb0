from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """How long each log is kept, and the periodic task that removes what has expired (rows in
    batches everywhere, whole monthly partitions on PostgreSQL): docs/retention.md."""

    name = "postpurchase.retention"
    label = "retention"
    verbose_name = "Log retention"
