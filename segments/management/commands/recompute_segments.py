from django.core.management.base import BaseCommand, CommandError

from segments.models import Segment
from segments.services import recompute_all_segments, recompute_segment


class Command(BaseCommand):
    help = "Recompute segment membership (all active segments, or the given ids)."

    def add_arguments(self, parser):
        parser.add_argument("segment_ids", nargs="*", type=int)

    def handle(self, *args, segment_ids, **options):
        missing = set(segment_ids) - set(
            Segment.objects.filter(pk__in=segment_ids).values_list("pk", flat=True)
        )
        if missing:
            raise CommandError(f"no segment with id {', '.join(map(str, sorted(missing)))}")
        if segment_ids:
            results = [recompute_segment(segment_id=pk) for pk in segment_ids]
        else:
            results = recompute_all_segments()
        names = dict(Segment.objects.values_list("pk", "name"))
        for result in results:
            self.stdout.write(
                f"{names[result.segment_id]}: {result.size} members "
                f"(+{result.entered} / -{result.exited})"
            )
