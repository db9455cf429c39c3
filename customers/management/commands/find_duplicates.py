from django.core.management.base import BaseCommand, CommandError

from customers.services.duplicates import (
    DEFAULT_MERGE_ABOVE,
    DEFAULT_SUGGEST_ABOVE,
    find_duplicates,
)


def _score(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Score likely duplicate profiles into the review queue; optionally merge the surest."

    def add_arguments(self, parser):
        parser.add_argument(
            "--merge-above",
            type=_score,
            nargs="?",
            const=DEFAULT_MERGE_ABOVE,
            metavar="S",
            help=(
                "merge every pair scoring at least S (0-1, a match probability; "
                f"{DEFAULT_MERGE_ABOVE} when S is left out); logged and undoable"
            ),
        )
        parser.add_argument(
            "--suggest-above",
            type=_score,
            default=DEFAULT_SUGGEST_ABOVE,
            metavar="S",
            help=f"queue pairs scoring at least S for review (default {DEFAULT_SUGGEST_ABOVE})",
        )

    def handle(self, *args, merge_above, suggest_above, **options):
        if merge_above is not None and merge_above < suggest_above:
            raise CommandError("--merge-above must not be below --suggest-above")
        report = find_duplicates(suggest_above=suggest_above, merge_above=merge_above)
        self.stdout.write(
            f"profiles {report.profiles}, pairs compared {report.compared}, "
            f"suggested {report.suggested}, merged {report.merged}, "
            f"left for review {report.not_merged}"
        )
        if options["verbosity"] > 1:
            self.stdout.write(
                f"scoring {report.seconds_scoring:.1f} s, merging {report.seconds_merging:.1f} s"
            )
