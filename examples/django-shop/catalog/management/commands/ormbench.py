"""The ORM table of docs/benchmarks.md (stack section): each pair of ways to ask the same thing, timed
on the seeded database (manage.py seed --people 100000), median of --runs after one warm-up
run. Prints JSON; test/bench/stack formats it."""
import json
import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog import queries
from catalog.models import Book, Person


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Times len() vs count(), objects vs values(), N+1 vs select_related, JSONB containment with and without the GIN index; prints JSON."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--books", type=int, default=1000, help="books in the N+1 comparison")
        parser.add_argument("--tag", default="t-007")

    def handle(self, *args, **opts):
        runs, nbooks, tag = opts["runs"], opts["books"], opts["tag"]
        rows = []

        def measure(group, variant, fn):
            fn()  # warm-up: the table in shared_buffers, the plan in the cache
            times, counts = [], []
            for _ in range(runs):
                with CaptureQueriesContext(connection) as ctx:
                    start = time.perf_counter()
                    fn()
                    times.append((time.perf_counter() - start) * 1000)
                counts.append(len(ctx.captured_queries))
            rows.append({"group": group, "variant": variant, "ms_median": statistics.median(times), "ms_runs": times, "queries": max(counts)})

        people = Person.objects.count()
        measure("count people", "len(Person.objects.all())", lambda: len(Person.objects.all()))
        measure("count people", "Person.objects.count()", lambda: Person.objects.count())
        measure("fetch every person", "list(Person.objects.all())", lambda: list(Person.objects.all()))
        measure("fetch every person", 'list(Person.objects.values("id", "first_name"))', lambda: list(Person.objects.values("id", "first_name")))

        def naive():
            for b in Book.objects.order_by("id")[:nbooks]:
                b.author.name

        def joined():
            for b in Book.objects.select_related("author").order_by("id")[:nbooks]:
                b.author.name

        measure(f"{nbooks} books with their author", "N+1: book.author in a loop", naive)
        measure(f"{nbooks} books with their author", 'select_related("author")', joined)

        qs = queries.people_with_tag(tag)
        matches = qs.count()
        with_plan = _top_node(qs.explain())
        # A fresh queryset each run: an evaluated one would answer from its result cache.
        measure(f"JSONB profile @> tags [{tag}]", f"GIN index (jsonb_path_ops): {with_plan}", lambda: list(queries.people_with_tag(tag)))
        try:
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute("DROP INDEX person_profile_gin")
                without_plan = _top_node(qs.explain())
                measure(f"JSONB profile @> tags [{tag}]", f"no index: {without_plan}", lambda: list(queries.people_with_tag(tag)))
                raise Rollback  # the index comes back
        except Rollback:
            pass

        self.stdout.write(json.dumps({"people": people, "books": Book.objects.count(), "matches": matches, "runs": runs, "rows": rows}, indent=2))


def _top_node(plan):
    """The plan's scan nodes, e.g. "Bitmap Index Scan on person_profile_gin"."""
    nodes = []
    for line in plan.splitlines():
        node = line.strip().lstrip("->").strip().split("  (")[0]
        if "Scan" in node:
            nodes.append(node)
    return " / ".join(nodes) or plan.splitlines()[0]
