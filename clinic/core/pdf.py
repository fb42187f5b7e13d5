"""Printable pages as PDF (WeasyPrint), from the same HTML the browser prints."""

from __future__ import annotations

from flask import Response, current_app

from clinic.core.http import content_disposition


def pdf_response(html: str, filename: str, *, download: bool = False) -> Response:
    """Render HTML to a PDF download; assets resolve against the app's static folder."""
    from weasyprint import HTML  # imported here: loading Pango is slow and only PDFs need it

    document = HTML(string=html, base_url=current_app.static_folder).write_pdf()
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(filename, download=download)})
