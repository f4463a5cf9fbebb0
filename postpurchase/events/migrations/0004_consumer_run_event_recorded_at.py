"""Consumer runs carry their event's ``recorded_at`` (the partition key of 0005), filled in for
the runs there are; and events get the index retention reads them by."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_event_dispatch_columns_db_defaults"),
    ]

    operations = [
        migrations.AddField(
            model_name="eventconsumerrun",
            name="event_recorded_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(
            "UPDATE events_eventconsumerrun SET event_recorded_at = ("
            "SELECT recorded_at FROM events_event WHERE events_event.id = "
            "events_eventconsumerrun.event_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["recorded_at"], name="event_recorded"),
        ),
    ]
