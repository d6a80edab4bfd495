"""Invalidation on save: the low-level query cache in Redis and the pages in Varnish.

Both run after the transaction commits (transaction.on_commit): invalidating earlier would
let a request that comes in between cache the old rows again.
"""
from functools import partial

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Book, Person
from .purge import purge
from .queries import PERSON_COUNT_KEY, person_key


def _person_changed(pk, created_or_deleted):
    keys = [person_key(pk)]
    paths = [f"/people/{pk}/"]
    if created_or_deleted:
        keys.append(PERSON_COUNT_KEY)
        paths.append("/people/count/")
    cache.delete_many(keys)
    purge(*paths)


@receiver(post_save, sender=Person, dispatch_uid="catalog.person_saved")
def person_saved(sender, instance, created, raw=False, **kwargs):
    if raw:  # loaddata
        return
    transaction.on_commit(partial(_person_changed, instance.pk, created))


@receiver(post_delete, sender=Person, dispatch_uid="catalog.person_deleted")
def person_deleted(sender, instance, **kwargs):
    transaction.on_commit(partial(_person_changed, instance.pk, True))


@receiver(post_save, sender=Book, dispatch_uid="catalog.book_saved")
def book_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    transaction.on_commit(partial(purge, "/books/", f"/authors/{instance.author_id}/"))
