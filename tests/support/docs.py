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


def documentation_text():
    """The README and every page of the book, in reading order."""
    return "\n".join(p.read_text() for p in [ROOT / "README.md", *book_pages()])
