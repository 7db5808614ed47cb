"""`schoolgate operator add EMAIL` / `schoolgate operator list`: platform operators (they create districts,
validate changes of Primary and see cross-district health; they see no district's people without a
membership). The password is typed at a prompt (or read from SCHOOLGATE_OPERATOR_PASSWORD), never an argument.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django.db import transaction

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag


class Command(SchoolgateCommand):
    help = "Add or list platform operators."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add an operator (asks for the password)")
        add.add_argument("email")
        lst = sub.add_parser("list", help="list operators")
        for p in (add, lst):
            json_flag(p)

    def run(self, **options: Any) -> tuple[dict, Any]:
        users = get_user_model().objects
        if options["action"] == "list":
            return {
                "operators": list(users.filter(is_superuser=True).values_list("username", flat=True))
            }, self.render
        email = options["email"].strip().lower()
        if users.filter(username=email).exists():
            raise InputRejected(f"{email} already has a login")
        password = os.environ.get("SCHOOLGATE_OPERATOR_PASSWORD") or getpass.getpass(
            f"Password for {email}: "
        )
        candidate = get_user_model()(username=email, email=email, is_staff=True, is_superuser=True)
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise InputRejected("password: " + " ".join(exc.messages)) from None
        candidate.set_password(password)
        with transaction.atomic():
            candidate.save()
            audit.record(None, audit.cli_actor(), "operator.added", target_type="admin", target_id=candidate.pk,
                         target_label=email)  # fmt: skip
        return {"operators": [email]}, self.render

    def render(self, doc: dict) -> None:
        for email in doc["operators"]:
            self.stdout.write(email)
