from celery import shared_task
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invoice


@shared_task(bind=True)
def render_invoice(self, invoice_id):
    """Renders an invoice and stores it in PostgreSQL. Idempotent: with acks_late a task
    whose worker died runs again, and only a pending invoice is written."""
    invoice = Invoice.objects.select_related("person", "book__author").get(pk=invoice_id)
    if invoice.status == Invoice.DONE:
        return
    body = render_to_string("catalog/invoice.txt", {"invoice": invoice, "total": invoice.book.price * invoice.quantity})
    Invoice.objects.filter(pk=invoice_id, status=Invoice.PENDING).update(
        body=body, status=Invoice.DONE, rendered_by=self.request.hostname or "", rendered_at=timezone.now()
    )
