"""Invoice PDF rendering (fpdf2, core fonts) and storage under MEDIA_ROOT/invoices/."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from fpdf import FPDF

from .models import Sale


def _text(value: object) -> str:
    """Core PDF fonts are Latin-1 only: replace anything else rather than fail."""
    return str(value).encode("latin-1", "replace").decode("latin-1")


def render_pdf(sale: Sale) -> bytes:
    """Render the invoice of `sale` as PDF bytes."""
    pdf = FPDF(format="A4")
    pdf.set_title(_text(f"Invoice {sale.number}"))
    pdf.set_author("Boutique")
    pdf.set_creation_date(sale.created_at)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, "Boutique", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 7, _text(f"Invoice {sale.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 7, f"Date: {sale.created_at:%Y-%m-%d %H:%M} UTC", new_x="LMARGIN", new_y="NEXT")
    customer = sale.customer.name if sale.customer else "Walk-in customer"
    pdf.cell(0, 7, _text(f"Customer: {customer}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 7, _text(f"Payment: {sale.get_payment_method_display()}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    widths = (90, 20, 35, 35)
    pdf.set_font("Helvetica", "B", 11)
    for width, title, align in zip(widths, ("Product", "Qty", "Unit price", "Amount"), "LRRR", strict=True):
        pdf.cell(width, 8, title, border="B", align=align)
    pdf.ln()
    pdf.set_font("Helvetica", "", 11)
    for line in sale.lines.select_related("product"):
        cells = (line.product.name, line.quantity, f"{line.unit_price:.2f}", f"{line.line_total:.2f}")
        for width, value, align in zip(widths, cells, "LRRR", strict=True):
            pdf.cell(width, 8, _text(value), align=align)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(sum(widths[:3]), 10, "Total", border="T", align="R")
    pdf.cell(widths[3], 10, f"{sale.total:.2f}", border="T", align="R")
    return bytes(pdf.output())


def store_pdf(sale: Sale) -> str:
    """Render and save the invoice PDF; returns its storage name (relative to MEDIA_ROOT)."""
    name = default_storage.save(f"invoices/{sale.number}.pdf", ContentFile(render_pdf(sale)))
    Sale.objects.filter(pk=sale.pk).update(invoice_pdf=name, invoice_rendered_at=timezone.now())
    return name
