"""Journey step logs, on PostgreSQL: the table partitioned by month on ``occurred_at``, with its
rows kept (docs/retention.md; a big table is converted offline as that page says, before this
migration runs, which then finds it partitioned and leaves it). Nothing changes on SQLite."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

from postpurchase.retention.partitions import is_partitioned, table_partition_by_month

TABLE = "journeys_journeysteplog"


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or is_partitioned(TABLE, using=connection):
        return
    table_partition_by_month(
        TABLE,
        "occurred_at",
        now=timezone.now(),
        ahead=settings.LOGS_PARTITIONS_AHEAD_MONTHS,
        using=connection,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0001_initial"),
    ]

    # Going back leaves the table partitioned: the models cannot tell.
    operations = [migrations.RunPython(partition, migrations.RunPython.noop)]
