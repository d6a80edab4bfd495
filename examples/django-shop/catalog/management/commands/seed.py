import datetime
import decimal
import itertools
import random
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from catalog.models import Author, Book, Person

FIRST = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "John", "Katherine",
         "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Vint", "Whitfield", "Yukihiro"]
LAST = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "McCarthy", "Johnson",
        "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Goldwasser", "Berners-Lee", "Cerf", "Diffie", "Matsumoto"]
CITIES = ["Amsterdam", "Berlin", "Bogota", "Cairo", "Delhi", "Lagos", "Lima", "Lisbon", "London", "Madrid",
          "Nairobi", "Osaka", "Oslo", "Paris", "Prague", "Rome", "Seoul", "Sydney", "Toronto", "Vienna"]
TIERS = ["bronze"] * 6 + ["silver"] * 3 + ["gold"]
# 500 tags, two per person: each tag is on about 0.4% of the people, selective enough for the
# GIN index to beat a sequential scan.
TAGS = [f"t-{i:03d}" for i in range(500)]


class Command(BaseCommand):
    help = "Seeds people, authors and books fast: bulk_create in batches, then ANALYZE. Deterministic for a given --seed."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=1000)
        parser.add_argument("--authors", type=int, default=50)
        parser.add_argument("--books-per-author", type=int, default=4)
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--clear", action="store_true", help="empty the catalog tables first (TRUNCATE)")

    def handle(self, *args, **opts):
        rng = random.Random(opts["seed"])
        batch = opts["batch_size"]
        start = time.perf_counter()
        with transaction.atomic():
            if opts["clear"]:
                with connection.cursor() as cur:
                    cur.execute("TRUNCATE catalog_invoice, catalog_book, catalog_author, catalog_person RESTART IDENTITY")
            people = (
                Person(
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    city=rng.choice(CITIES),
                    profile={"tier": rng.choice(TIERS), "tags": rng.sample(TAGS, 2), "newsletter": rng.random() < 0.3},
                )
                for _ in range(opts["people"])
            )
            _bulk(Person, people, batch)
            authors = Author.objects.bulk_create(
                [Author(name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}") for i in range(opts["authors"])], batch_size=batch
            )
            day = datetime.date(2000, 1, 1)
            books = (
                Book(
                    author=a,
                    title=f"Book {a.pk}-{j}",
                    published=day + datetime.timedelta(days=rng.randrange(9000)),
                    price=decimal.Decimal(rng.randrange(500, 6000)) / 100,
                )
                for a in authors
                for j in range(opts["books_per_author"])
            )
            _bulk(Book, books, batch)
        # Fresh statistics, so that the planner knows how selective the JSONB queries are.
        with connection.cursor() as cur:
            cur.execute("ANALYZE catalog_person, catalog_author, catalog_book")
        self.stdout.write(
            f"seeded {opts['people']} people, {opts['authors']} authors, {opts['authors'] * opts['books_per_author']} books "
            f"in {time.perf_counter() - start:.1f}s"
        )


def _bulk(model, objects, batch):
    """bulk_create from an iterator, one batch in memory at a time. No signals are sent."""
    it = iter(objects)
    while chunk := list(itertools.islice(it, batch)):
        model.objects.bulk_create(chunk, batch_size=batch)
