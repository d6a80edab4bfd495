"""Measures what the practices promise, on the live database, and prints JSON.

Run by the local stack test (test/stack): the books page's query count as books grow (and
the naive N+1 loop's, which must grow, so the measurement is shown to work), the author
page's query count (cached_property), and the plan of the JSONB containment query.
Changes to the books happen in a transaction that is rolled back.
"""
import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from catalog import queries
from catalog.models import Author, Book, Person


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Prints JSON: query counts of the books and author pages, and the plan of the JSONB containment query."

    def add_arguments(self, parser):
        parser.add_argument("--steps", default="1,10,50", help="numbers of books (each by its own author) to measure the books page with")
        parser.add_argument("--tag", default="t-007", help="the tag of the containment query")

    def handle(self, *args, **opts):
        steps = sorted({int(s) for s in opts["steps"].split(",")})
        result = {"books_page": [], "naive_books": []}
        with override_settings(ALLOWED_HOSTS=["testserver"]):
            client = Client()
            try:
                with transaction.atomic():
                    Book.objects.all().delete()
                    for n in steps:
                        have = Book.objects.count()
                        for i in range(have, n):
                            author = Author.objects.create(name=f"Check author {i}")
                            Book.objects.create(author=author, title=f"Check book {i}", published=datetime.date(2024, 1, 1), price=10)
                        with CaptureQueriesContext(connection) as page:
                            response = client.get("/books/")
                        if response.status_code != 200:
                            raise CommandError(f"/books/ answered {response.status_code}")
                        result["books_page"].append({"books": n, "queries": len(page.captured_queries)})
                        with CaptureQueriesContext(connection) as naive:
                            [b.author.name for b in Book.objects.order_by("-id")]
                        result["naive_books"].append({"books": n, "queries": len(naive.captured_queries)})
                    raise Rollback
            except Rollback:
                pass

            author = Author.objects.filter(books__isnull=False).first()
            if author is None:
                raise CommandError("no author with books: run manage.py seed first")
            with CaptureQueriesContext(connection) as page:
                response = client.get(f"/authors/{author.pk}/")
            if response.status_code != 200:
                raise CommandError(f"/authors/{author.pk}/ answered {response.status_code}")
            result["author_page"] = {"queries": len(page.captured_queries), "book_count": author.book_count}

        qs = queries.people_with_tag(opts["tag"])
        plan = qs.explain()
        result["containment"] = {
            "tag": opts["tag"],
            "sql": str(qs.query),
            "plan": plan,
            "uses_gin_index": "person_profile_gin" in plan,
            "rows": qs.count(),
            "people": Person.objects.count(),
        }
        self.stdout.write(json.dumps(result, indent=2))
