"""The documentation as tests read it: the README, then the book's pages
in the order of docs/src/SUMMARY.md."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BOOK = ROOT / "docs" / "src"


def book_pages():
    """The book's pages, in reading order."""
    summary = (BOOK / "SUMMARY.md").read_text()
    return [BOOK / link for link in re.findall(r"\]\(([^)#]+\.md)\)", summary)]


def documentation_text(skip=()):
    """The README and every page of the book, in reading order, but for
    the pages in `skip` (paths under docs/src)."""
    pages = [p for p in book_pages() if str(p.relative_to(BOOK)) not in skip]
    return "\n".join(p.read_text() for p in [ROOT / "README.md", *pages])
