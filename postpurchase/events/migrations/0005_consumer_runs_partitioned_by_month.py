"""Consumer runs: ``event_recorded_at`` required and part of the once-per-consumer key (exactly
as strict as before, being a function of the event), then, on PostgreSQL, the table partitioned
by month on it with its rows kept (docs/retention.md; a big table is converted offline as that
page says, before this migration runs, which then finds it partitioned and leaves it)."""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from postpurchase.retention.partitions import is_partitioned, table_partition_by_month

TABLE = "events_eventconsumerrun"


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or is_partitioned(TABLE, using=connection):
        return
    table_partition_by_month(
        TABLE,
        "event_recorded_at",
        now=timezone.now(),
        ahead=settings.LOGS_PARTITIONS_AHEAD_MONTHS,
        using=connection,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_consumer_run_event_recorded_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="eventconsumerrun",
            name="event_recorded_at",
            field=models.DateTimeField(),
        ),
        migrations.RemoveConstraint(
            model_name="eventconsumerrun",
            name="event_consumer_once",
        ),
        migrations.AddConstraint(
            model_name="eventconsumerrun",
            constraint=models.UniqueConstraint(
                fields=("event", "consumer", "event_recorded_at"), name="event_consumer_once"
            ),
        ),
        # Going back leaves the table partitioned: the models cannot tell.
        migrations.RunPython(partition, migrations.RunPython.noop),
    ]
