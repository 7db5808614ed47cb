"""`make demo`: set up the embedded database, load the bundled demo district, and serve it with its worker.

Idempotent: running it again re-syncs the same files (which changes nothing) and issues a fresh password for
the demo operator login, which is printed, never stored in plain text.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "demo-district"
SCHOOLGATE = str(Path(sys.executable).parent / "schoolgate")
DEFAULT_ADDRESS = "127.0.0.1:8000"


def demo_address(environ: Mapping[str, str]) -> str:
    """The host:port the demo serves on: SCHOOLGATE_DEMO_ADDRESS, else 127.0.0.1:8000.

    A bare port is what runserver reads as "this machine, that port"; it is spelt out so that the addresses
    printed and put in e-mails lead somewhere.
    """
    address = environ.get("SCHOOLGATE_DEMO_ADDRESS", "").strip() or DEFAULT_ADDRESS
    return f"127.0.0.1:{address}" if address.isdigit() else address


def demo_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` for the demo's processes, with e-mail links pointing at the address the demo serves on.

    Links in e-mails are built from SCHOOLGATE_BASE_URL, whose default is port 8000 whatever port runserver
    was given. One the user set (non-empty) is kept: they may serve behind a proxy or another name.
    """
    env = dict(environ)
    if not env.get("SCHOOLGATE_BASE_URL"):
        env["SCHOOLGATE_BASE_URL"] = f"http://{demo_address(environ)}"
    return env


def schoolgate(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([SCHOOLGATE, *args], check=False, text=True, capture_output=capture)


def main() -> None:
    address = demo_address(os.environ)
    chosen_base_url = os.environ.get("SCHOOLGATE_BASE_URL")
    # Before anything starts: the server and worker inherit it, and this process's django.setup() reads it.
    os.environ.update(demo_environment(os.environ))
    # Commands typed in another shell render their e-mails there, without this environment.
    other_shell = (
        f"  In that shell, first  export SCHOOLGATE_BASE_URL={os.environ['SCHOOLGATE_BASE_URL']}"
        "  (so its e-mails link here)\n"
        if not chosen_base_url and address != DEFAULT_ADDRESS
        else ""
    )
    print("Preparing the embedded database in ./var …")
    if schoolgate("migrate", "--verbosity", "0").returncode:
        sys.exit("migrate failed")
    listed = json.loads(schoolgate("district", "list", "--json", capture=True).stdout)
    if not any(d["slug"] == "demo" for d in listed["districts"]):
        # Captured: the command echoes the new district ("demo: Demo Unified School District"), which would
        # read as a stray line in the set-up's own output.
        added = schoolgate("district", "add", "demo", "Demo Unified School District", capture=True)
        if added.returncode:
            sys.exit(f"adding the demo district failed: {added.stderr.strip() or added.stdout.strip()}")
    print(f"Syncing the bundled OneRoster sample ({SAMPLE.relative_to(ROOT)}) …")
    result = schoolgate("sync", "demo", str(SAMPLE), "--json", capture=True)
    report = json.loads(result.stdout)
    print(f"  sync run {report['run']}: {report['status']}; accounts: {report['counts'].get('accounts')}")
    password = secrets.token_urlsafe(12)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    from schoolgate.admins.models import AdminMembership
    from schoolgate.core.models import District

    # One login that is both the platform operator and the demo district's Primary admin (so it sees the
    # district's people: an operator alone would see only health).
    operator, _ = user_model.objects.get_or_create(username="operator", defaults={"is_staff": True})
    operator.is_staff = operator.is_superuser = True
    operator.email = "operator@demo.example"
    operator.set_password(password)
    operator.save()
    demo = District.objects.get(slug="demo")
    if not AdminMembership.objects.filter(district=demo, role="primary").exists():
        AdminMembership.objects.get_or_create(
            user=operator, district=demo, defaults={"role": "primary", "created_by": "make demo"}
        )
    schoolgate("collectstatic", "--noinput", "--verbosity", "0")
    print(
        f"""
Schoolgate is starting on http://{address}/
  Sign in at http://{address}/console/ as  operator  /  {password}
  (a fresh password is issued each time `make demo` runs). Admins always use a second factor: the first
  time, scan the QR code with an authenticator app (or type the key shown under it) and keep the
  recovery codes it gives you.
  The portal: http://{address}/portal/demo/login/   (mail is written to var/mail/ as .eml files)
  From another shell:  .venv/bin/schoolgate accounts demo --state ready_to_provision
                       .venv/bin/schoolgate group add demo Parents --audience contact
                       .venv/bin/schoolgate generate demo Parents --preview
{other_shell}Press Ctrl+C to stop.
"""
    )
    # The web server and the background worker (account generation, mail delivery) run side by side; Ctrl+C
    # stops both.
    worker = subprocess.Popen([SCHOOLGATE, "db_worker", "--queue-name", "*"])
    server = subprocess.Popen([SCHOOLGATE, "runserver", address, "--noreload"])
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
