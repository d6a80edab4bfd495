import json
import time

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt

from . import queries
from .models import Author, Book, Invoice, Person
from .tasks import render_invoice

PAGE_SIZE = 100


def home(request):
    # The city table is a template fragment cache ({% cache %} in home.html): its GROUP BY
    # runs once per CACHE_DEFAULT_TIMEOUT, not per request.
    return render(request, "catalog/home.html", {"cities": lambda: queries.city_counts(10), "timeout": settings.CACHE_TIMEOUT})


def people_count(request):
    return render(request, "catalog/people_count.html", {"count": queries.person_count()})


def people_list(request):
    after = _int(request.GET.get("after"), 0)
    people = queries.people_page(after, PAGE_SIZE)
    next_after = people[-1]["id"] if len(people) == PAGE_SIZE else None
    return render(request, "catalog/people_list.html", {"people": people, "next_after": next_after})


def person_detail(request, pk):
    card = queries.person_card(pk)
    if card is None:
        raise Http404("no such person")
    return render(request, "catalog/person_detail.html", {"person": card})


def people_search(request):
    tag = request.GET.get("tag", "")
    people = list(queries.people_with_tag(tag)[:PAGE_SIZE]) if tag else []
    return render(request, "catalog/people_search.html", {"tag": tag, "people": people})


def books(request):
    book_list, authors = queries.books_page(PAGE_SIZE)
    return render(request, "catalog/books.html", {"books": book_list, "authors": authors})


def author_detail(request, pk):
    author = get_object_or_404(Author, pk=pk)
    # author.book_count is a cached_property: the template shows it twice, one query.
    return render(request, "catalog/author_detail.html", {"author": author})


def stock(request):
    # Cached by Varnish for a few seconds only (a short-TTL cache rule): near-live numbers,
    # and still at most one request per few seconds reaches the app.
    return render(request, "catalog/stock.html", {"books": Book.objects.count(), "rendered_at": time.time()})


@csrf_exempt  # an API for other programs: no session, no CSRF cookie; put real auth here
def api_person(request, pk):
    person = get_object_or_404(Person, pk=pk)
    if request.method == "POST":
        data = _json(request)
        if data is None:
            return HttpResponseBadRequest("send a JSON object\n")
        for field in ("first_name", "last_name", "city"):
            if field in data:
                setattr(person, field, str(data[field])[:50])
        with transaction.atomic():
            person.save()  # post_save: Redis keys deleted and /people/<pk>/ purged on commit
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return JsonResponse({"id": person.pk, "first_name": person.first_name, "last_name": person.last_name, "city": person.city})


@csrf_exempt
def api_invoices(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    data = _json(request)
    if data is None:
        return HttpResponseBadRequest("send a JSON object\n")
    person = get_object_or_404(Person, pk=_int(data.get("person"), 0))
    book = get_object_or_404(Book, pk=_int(data.get("book"), 0))
    with transaction.atomic():
        invoice = Invoice.objects.create(person=person, book=book, quantity=max(1, _int(data.get("quantity"), 1)))
        # Enqueue only once the row is committed, so that the worker finds it.
        transaction.on_commit(lambda: render_invoice.delay(invoice.pk))
    # 202: accepted, rendered later by a Celery worker; poll the invoice's URL.
    return JsonResponse({"id": invoice.pk, "status": invoice.status, "url": f"/api/invoices/{invoice.pk}/"}, status=202)


def api_invoice(request, pk):
    invoice = get_object_or_404(Invoice, pk=pk)
    return JsonResponse(
        {
            "id": invoice.pk,
            "status": invoice.status,
            "rendered_by": invoice.rendered_by,
            "body": invoice.body,
        }
    )


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _json(request):
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
