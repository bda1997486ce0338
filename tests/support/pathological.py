"""Generators of small files that cost a parser a lot: the pathological inputs issue 11 measured.

``slow_pdf`` builds a one-page PDF whose Flate-compressed content stream holds ``operators`` text-showing operators
(``Tj`` after a ``Td`` move each): a few tens of KB that keep pypdf's text extraction busy for tens of seconds.
"""

from __future__ import annotations

import zlib


def slow_pdf(operators: int = 200_000, *, compress: bool = True) -> bytes:
    body = b"BT /F1 9 Tf " + b"1 0 Td (x) Tj " * operators + b"ET"
    stream = zlib.compress(body, 9) if compress else body
    filters = b"/Filter /FlateDecode " if compress else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< " + filters + b"/Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
