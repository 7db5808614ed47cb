"""`schoolgate sync SLUG PATH [--format auto|oneroster|sds] [--dry-run] [--confirm] [--tolerant]`.

Exit 0 when applied (or a dry run), 1 when the files are rejected, 3 when the run is held by the
mass-revocation guard (re-run with --confirm to apply it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from schoolgate.core import audit
from schoolgate.core.cli import EXIT_HELD, EXIT_REJECTED, InputRejected, SchoolgateCommand
from schoolgate.sync.engine import STEPS, run_sync

STEP_LABELS = {
    "read": "Reading and checking the files",
    "compare": "Finding who changed",
    "stage": "Staging rows",
    "mirror": "Updating schools, people and links",
    "rules": "Evaluating eligibility rules",
    "plan": "Working out account changes",
    "apply": "Applying account changes",
    "commit": "Saving",
}


class Command(SchoolgateCommand):
    help = "Mirror a SIS file set (OneRoster 1.1/1.2 or SDS v2.1, folder or zip) into a district."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the district")
        parser.add_argument("path", help="a folder or .zip holding the SIS CSV files")
        parser.add_argument("--format", choices=["auto", "oneroster", "sds"], default="auto")
        parser.add_argument("--dry-run", action="store_true", help="report the full diff and change nothing")
        parser.add_argument("--confirm", action="store_true", help="apply even a run the guard would hold")
        parser.add_argument(
            "--tolerant", action="store_true", help="turn known real-world deviations into warnings"
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="re-check everyone, not just the people whose SIS data changed (e.g. after a rule change)",
        )

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        path = Path(options["path"])
        if not path.exists():
            raise InputRejected(f"{path}: no such file or folder")
        kwargs = dict(
            format=options["format"],
            dry_run=options["dry_run"],
            confirm=options["confirm"],
            tolerant=options["tolerant"],
            full=options["full"],
            actor=audit.cli_actor(),
        )
        if options["json"]:
            outcome = run_sync(district, path, **kwargs)
        else:
            outcome = self._with_progress(district, path, kwargs)
        return outcome.as_json(), self.render

    def _with_progress(self, district: Any, path: Path, kwargs: dict) -> Any:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description:<40}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.progress_console(), transient=True) as bar:
            task = bar.add_task("Starting", total=len(STEPS))

            def step(name: str) -> None:
                bar.update(task, description=STEP_LABELS[name], completed=STEPS.index(name))

            outcome = run_sync(district, path, progress=step, **kwargs)
            bar.update(task, completed=len(STEPS))
        return outcome

    def render(self, doc: dict) -> None:
        console = self.console()
        console.print(f"Run {doc['run'] or '(dry run)'}: [bold]{doc['status']}[/bold] ({doc['format']})")
        repeated = doc["counts"].get("staged", {}).get("same_set_as_run")
        if repeated:
            console.print(
                f"  The same files as run {repeated}, sent again: not read, nobody's SIS record changed."
            )
        for entity, counts in doc["counts"].items():
            console.print(f"  {entity}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if doc["durations"]:
            steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in doc["durations"].items())
            console.print(f"  took {sum(doc['durations'].values()):.1f} s: {steps}")
        for error in doc["errors"]:
            console.print(f"  [red]error[/red] {_where(error)}: {error['message']}", markup=True)
        for warning in doc["warnings"]:
            console.print(f"  [yellow]warning[/yellow] {_where(warning)}: {warning['message']}")
        if doc["status"] == "held":
            console.print(
                f"Held: {doc['counts']['guard']['revoking']} active or invited accounts would move to "
                "ready_to_revoke, more than the district allows in one run. Review the diff (--dry-run "
                "--json) and re-run with --confirm if it is right."
            )

    def after_output(self, document: dict) -> None:
        if document["status"] == "held":
            raise CommandError("sync held for confirmation", returncode=EXIT_HELD)
        if document["status"] == "rejected":
            raise CommandError("the SIS files were rejected", returncode=EXIT_REJECTED)


def _where(problem: dict) -> str:
    parts = [problem["file"] or "(set)"]
    if problem["line"] is not None:
        parts.append(f"line {problem['line']}")
    if problem["column"]:
        parts.append(f"column {problem['column']}")
    return ", ".join(parts)
