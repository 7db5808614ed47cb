"""`schoolgate admin …`: the district's admins from the server's own shell.

    schoolgate admin list SLUG
    schoolgate admin invite SLUG EMAIL --role support [--school CODE …] [--primary]
    schoolgate admin role SLUG EMAIL --role auditor
    schoolgate admin remove SLUG EMAIL
    schoolgate admin primary-requests [--pending]
    schoolgate admin primary-decide REQUEST_ID --approve|--reject [--note TEXT]

The shell is the operator's console: it acts with full rights, through the same functions as the web console,
and its audit events name the operating-system user.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.admins import roles
from schoolgate.admins.delegation import (
    AdminChangeRejected,
    change_role,
    decide_primary_change,
    invite_admin,
    remove_admin,
)
from schoolgate.admins.models import AdminMembership, PrimaryChangeRequest, RequestStatus
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag


class Command(SchoolgateCommand):
    help = "List, invite, change and remove a district's admins; decide changes of Primary."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        lst = sub.add_parser("list", help="the district's admins and open invitations")
        lst.add_argument("slug")
        invite = sub.add_parser("invite", help="e-mail an invitation (password + authenticator set-up)")
        invite.add_argument("slug")
        invite.add_argument("email")
        invite.add_argument(
            "--role", default=roles.SUPPORT_ROLE, help=f"one of {', '.join(roles.ROLES)} or service:<level>"
        )
        invite.add_argument("--school", action="append", default=[], help="a school admin's school (repeat)")
        role = sub.add_parser("role", help="change an admin's level")
        role.add_argument("slug")
        role.add_argument("email")
        role.add_argument("--role", required=True)
        role.add_argument("--school", action="append", default=[])
        remove = sub.add_parser("remove", help="remove an admin: sessions end and tokens stop at once")
        remove.add_argument("slug")
        remove.add_argument("email")
        requests = sub.add_parser("primary-requests", help="requests to change a district's Primary")
        requests.add_argument("--pending", action="store_true")
        decide = sub.add_parser("primary-decide", help="validate or reject a change of Primary")
        decide.add_argument("request_id", type=int)
        verdict = decide.add_mutually_exclusive_group(required=True)
        verdict.add_argument("--approve", action="store_true")
        verdict.add_argument("--reject", action="store_true")
        decide.add_argument("--note", default="")
        for p in (lst, invite, role, remove, requests, decide):
            json_flag(p)

    def run(self, **options: Any) -> tuple[dict, Any]:
        action, actor = options["action"], audit.cli_actor()
        try:
            if action == "list":
                return self.listing(options["slug"]), self.render_list
            if action == "invite":
                district = self.district(options["slug"])
                invitation, _ = invite_admin(
                    district, options["email"], options["role"], school_codes=options["school"], actor=actor,
                    allow_primary=options["role"] == roles.PRIMARY,
                )  # fmt: skip
                return {"invited": invitation.email, "role": invitation.role, "district": district.slug,
                        "expires_at": invitation.expires_at.isoformat()}, self.render_done  # fmt: skip
            if action == "role":
                membership = self.membership(options["slug"], options["email"])
                change_role(membership, options["role"], school_codes=options["school"], actor=actor)
                return {"admin": options["email"], "role": membership.role}, self.render_done
            if action == "remove":
                remove_admin(self.membership(options["slug"], options["email"]), actor=actor)
                return {"removed": options["email"]}, self.render_done
            if action == "primary-requests":
                found = PrimaryChangeRequest.objects.select_related("district")
                if options["pending"]:
                    found = found.filter(status=RequestStatus.PENDING)
                return {"requests": [self.describe_request(r) for r in found]}, self.render_requests
            request = (
                PrimaryChangeRequest.objects.select_related("district")
                .filter(pk=options["request_id"])
                .first()
            )
            if request is None:
                raise InputRejected(f"no request {options['request_id']}")
            decided = decide_primary_change(
                request, approve=options["approve"], actor=actor, note=options["note"]
            )
            return {"request": self.describe_request(decided)}, self.render_done
        except AdminChangeRejected as exc:
            raise InputRejected(str(exc)) from None

    def membership(self, slug: str, email: str) -> AdminMembership:
        district = self.district(slug)
        found = (
            AdminMembership.objects.select_related("user", "district")
            .filter(district=district, user__username=email.strip().lower())
            .first()
        )
        if found is None:
            raise InputRejected(f"{email} is not an admin of {district.slug}")
        return found

    def listing(self, slug: str) -> dict[str, Any]:
        district = self.district(slug)
        members = (
            AdminMembership.objects.filter(district=district)
            .select_related("user")
            .order_by("user__username")
        )
        return {"district": district.slug, "admins": [
            {"email": m.user.username, "role": m.role, "schools": m.school_codes} for m in members
        ], "invitations": [
            {"email": i.email, "role": i.role, "expires_at": i.expires_at.isoformat()}
            for i in district.admin_invitations.filter(used_at=None, withdrawn_at=None)
        ]}  # fmt: skip

    @staticmethod
    def describe_request(r: PrimaryChangeRequest) -> dict[str, Any]:
        return {"id": r.pk, "district": r.district.slug, "requested_by": r.requested_by,
                "new_primary": r.new_primary_email, "reason": r.reason, "status": r.status,
                "decided_by": r.decided_by, "note": r.decision_note}  # fmt: skip

    def render_list(self, doc: dict) -> None:
        for a in doc["admins"]:
            schools = f" ({', '.join(a['schools'])})" if a["schools"] else ""
            self.stdout.write(f"{a['email']:<40} {a['role']}{schools}")
        for i in doc["invitations"]:
            self.stdout.write(f"{i['email']:<40} {i['role']} — invited, not yet accepted")
        if not doc["admins"] and not doc["invitations"]:
            self.stdout.write(
                f"No admins yet: `schoolgate admin invite {doc['district']} EMAIL --role primary`."
            )

    def render_requests(self, doc: dict) -> None:
        for r in doc["requests"]:
            self.stdout.write(
                f"#{r['id']} {r['district']}: → {r['new_primary']} ({r['status']}) — {r['reason']}"
            )
        if not doc["requests"]:
            self.stdout.write("No requests.")

    def render_done(self, doc: dict) -> None:
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in doc.items()))
