from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.functional import cached_property


class Person(models.Model):
    """A customer. profile is free-form JSON, e.g. {"tier": "gold", "tags": ["t-042"]}."""

    first_name = models.CharField(max_length=50)
    last_name = models.CharField(max_length=50)
    city = models.CharField(max_length=50, db_index=True)
    profile = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # jsonb_path_ops: smaller and faster than the default jsonb_ops, and serves the
            # containment operator @> (profile__contains), which is all the shop asks of it.
            GinIndex(fields=["profile"], name="person_profile_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    def get_absolute_url(self):
        return f"/people/{self.pk}/"


class Author(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/authors/{self.pk}/"

    @cached_property
    def book_count(self):
        """One COUNT query per instance, however often a template asks."""
        return self.books.count()


class Book(models.Model):
    author = models.ForeignKey(Author, related_name="books", on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    published = models.DateField()
    price = models.DecimalField(max_digits=8, decimal_places=2)

    def __str__(self):
        return self.title


class Invoice(models.Model):
    """Rendered by a Celery task (catalog.tasks.render_invoice) after the request returned."""

    PENDING, DONE = "pending", "done"

    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, default=PENDING, choices=[(PENDING, PENDING), (DONE, DONE)])
    body = models.TextField(blank=True)
    rendered_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
