"""The queries the views run, in one place so that the checks and the benchmark run exactly
what the pages run."""
from django.core.cache import cache

from .models import Author, Book, Person

# Low-level query cache keys in the cache Redis; signals.py deletes them on save.
PERSON_COUNT_KEY = "person:count"


def person_key(pk):
    return f"person:{pk}"


def person_count():
    """Person.objects.count() (SELECT COUNT(*), never len() of a queryset), kept in Redis
    until a Person is saved or deleted."""
    return cache.get_or_set(PERSON_COUNT_KEY, Person.objects.count)


def person_card(pk):
    """The fields of one person that its page shows, kept in Redis until it is saved.
    None when there is no such person."""
    key = person_key(pk)
    card = cache.get(key)
    if card is None:
        card = Person.objects.filter(pk=pk).values("id", "first_name", "last_name", "city", "profile").first()
        if card is not None:
            cache.set(key, card)
    return card


def people_page(after, size):
    """Only the columns the list shows (.values()), keyset-paginated by id."""
    return list(Person.objects.filter(id__gt=after).order_by("id").values("id", "first_name", "last_name", "city")[:size])


def people_with_tag(tag):
    """JSONB containment, profile @> '{"tags": [tag]}': served by the GIN index."""
    return Person.objects.filter(profile__contains={"tags": [tag]}).order_by("id").values("id", "first_name", "last_name", "city")


def books_page(size):
    """The newest books with their authors (select_related: one JOIN) and the authors with
    their books (prefetch_related: one more query), however many books there are."""
    books = list(Book.objects.select_related("author").order_by("-published", "-id")[:size])
    authors = list(Author.objects.filter(books__in=books).distinct().order_by("name").prefetch_related("books"))
    return books, authors


def city_counts(limit):
    """The cities with the most people, counted by the database (GROUP BY)."""
    from django.db.models import Count

    return list(Person.objects.values("city").annotate(n=Count("id")).order_by("-n", "city")[:limit])
