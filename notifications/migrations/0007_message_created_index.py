"""The index retention reads messages by, oldest first (docs/retention.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0006_inbound_sms_once_per_message_sid"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["created_at"], name="message_created"),
        ),
    ]
