"""manage.py import_customers FILE [--source NAME] [--map COLUMN=TARGET …] [--kind events
[--event NAME]] [--date-order DMY|MDY] [--dry-run] [--report FILE]

Reads and plans the file in this process; its batches are the same Celery
tasks an upload's are (``sources.tasks.import_batch``): with a broker,
workers on the ``imports`` queue run them and the command waits for the
last; without one they run here, one after the other. Then it prints the
summary and the mapping it used (column → target, two values of each
column), and exits non-zero only when the file itself cannot be read or the
mapping is wrong (the job then ends ``failed``); rows with problems are
counted and listed, never fatal. A dry run writes nothing at all: no
profile, no source, no job.
"""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sources.imports.jobs import create_import_job, file_source, map_once
from sources.imports.mapping import MappingError
from sources.imports.reading import ImportFileError
from sources.imports.report import mapping_lines, report_lines, summary_lines
from sources.imports.runner import run_import, wait_for_job
from sources.models import ImportJob

SHOWN_ISSUES = 20


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "Import a CSV, XLSX or JSON file of customers (or events) through the pipeline."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--source", help="source name (created as a file source if new)")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="TARGET: a core field (email, first_name, postal_code…), trait.NAME[:TYPE], "
            "id.TYPE, consent.PURPOSE[:inverted|granted_at|withdrawn_at], consent_ip, "
            "address, FIELD|trait.NAME or ignore",
        )
        parser.add_argument("--dry-run", action="store_true", help="preview; write nothing")
        parser.add_argument(
            "--kind", choices=ImportJob.Kind.values, default=ImportJob.Kind.CUSTOMERS
        )
        parser.add_argument(
            "--event",
            default="",
            metavar="NAME",
            help="event files: give every row this event name (e.g. 'Order Completed')",
        )
        parser.add_argument(
            "--date-order",
            choices=ImportJob.DateOrder.values,
            default="",
            help="how a/b/yyyy dates are written (default: decided per column)",
        )
        parser.add_argument("--report", help="write the row-level report to this CSV file")

    def handle(self, *args, **options):
        overrides = {}
        for item in options["map"]:
            column, sep, target = item.rpartition("=")
            if not sep or not column:
                raise CommandError(f"--map {item!r}: use COLUMN=TARGET")
            overrides[column] = target
        if not options["dry_run"]:
            self._run(overrides, options)
            return
        self._job: ImportJob | None = None
        try:
            with transaction.atomic():  # source, job and row report all rolled back
                self._run(overrides, options)
                raise _DryRun
        except _DryRun:
            pass
        finally:
            if self._job is not None:
                self._job.file.delete(save=False)

    def _run(self, overrides: dict[str, str], options) -> None:
        path = Path(options["file"])
        source = file_source(name=options["source"]) if options["source"] else None
        try:
            with path.open("rb") as handle:
                job = create_import_job(
                    file=File(handle),
                    name=path.name,
                    kind=options["kind"],
                    source=source,
                    limit_size=False,  # the operator's own file: only uploads are limited
                )
        except (OSError, ImportFileError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        self._job = job
        try:
            map_once(
                job=job,
                overrides=overrides,
                event_name=options["event"],
                date_order=options["date_order"],
            )
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        job = run_import(job_id=job.pk, dry_run=options["dry_run"])
        if job.is_active:  # the batches are on workers
            job = wait_for_job(job_id=job.pk)
        for line in [*summary_lines(job), *mapping_lines(job)]:
            self.stdout.write(line)
        issues = list(job.issues.all()[:SHOWN_ISSUES])
        for issue in issues:
            where = f"row {issue.row}" + (f", {issue.column}" if issue.column else "")
            self.stdout.write(f"  {issue.severity}: {where}: {issue.reason}")
        if job.issues.count() > len(issues):
            self.stdout.write(f"  … {job.issues.count() - len(issues)} more (see --report)")
        if options["report"]:
            with open(options["report"], "w", encoding="utf-8", newline="") as out:
                out.writelines(report_lines(job))
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(job.error)
