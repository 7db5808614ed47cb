# Written by hand in the shape `makemigrations scim` produces (it could not run while another app's settings
# were being changed concurrently); `makemigrations --check` confirms it matches the model.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0004_invitation_purpose"),
        ("core", "0002_district_auto_transfer_strong_matches_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="ScimAccount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("external_id", models.CharField(blank=True, max_length=255)),
                ("deleted_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "account",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scim_link",
                        to="accounts.account",
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.district",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["district", "external_id"], name="scim_external_id_idx")],
            },
        ),
    ]
