"""The documentation a newcomer navigates: a short README that leads into
the book under docs/, and the book's table of test suites generated from
the suites' own docstrings (QUARRY_BLESS=1 rewrites it). The book is
built and every link checked by `cargo xtask docs`, which `cargo xtask
test` runs."""

import ast
import os
import re

from support.docs import BOOK, ROOT, book_pages

TESTS_PAGE = BOOK / "developers" / "tests.md"
BEGIN, END = "<!-- suites:begin -->", "<!-- suites:end -->"


def suites_table():
    rows = ["| suite | what it proves |", "|---|---|"]
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        first = " ".join(doc.split("\n\n")[0].split())
        assert first, f"{path.name} has no docstring saying what it proves"
        cell = first.replace("|", "\\|")
        rows.append(f"| `tests/{path.name}` | {cell} |")
    return "\n".join(rows)


def test_the_suites_table_is_the_suites_docstrings():
    page = TESTS_PAGE.read_text()
    expected = f"{BEGIN}\n{suites_table()}\n{END}"
    if os.environ.get("QUARRY_BLESS"):
        page = re.sub(f"{BEGIN}.*?{END}", lambda _: expected, page, flags=re.S)
        TESTS_PAGE.write_text(page)
    assert expected in page, "docs/src/developers/tests.md's table is out of date: QUARRY_BLESS=1 pytest tests/test_docs.py"


ARCHITECTURE = BOOK / "developers" / "architecture.md"


def module_tree():
    lines = []
    for crate in sorted((ROOT / "crates").iterdir()):
        src = crate / "src"
        if not src.is_dir():
            continue
        modules = sorted(
            p.name + "/" if p.is_dir() else p.stem
            for p in src.iterdir()
            if p.is_dir() or (p.suffix == ".rs" and p.stem not in ("lib", "main"))
        )
        lines.append(f"{crate.name}: {' '.join(modules)}")
    return "```text\n" + "\n".join(lines) + "\n```"


def test_the_architectures_module_tree_is_the_crates():
    page = ARCHITECTURE.read_text()
    begin, end = "<!-- modules:begin -->", "<!-- modules:end -->"
    expected = f"{begin}\n{module_tree()}\n{end}"
    if os.environ.get("QUARRY_BLESS"):
        page = re.sub(f"{begin}.*?{end}", lambda _: expected, page, flags=re.S)
        ARCHITECTURE.write_text(page)
    assert expected in page, "the architecture's module tree is out of date: QUARRY_BLESS=1 pytest tests/test_docs.py"


def test_the_readme_is_short_and_leads_into_the_book():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\((docs/[^)#]+)\)", readme)
    assert len(links) >= 8, links
    for link in links:
        assert (ROOT / link).is_file(), link


def test_every_page_of_the_book_is_in_its_summary():
    listed = {p.resolve() for p in book_pages()}
    on_disk = {p.resolve() for p in BOOK.rglob("*.md") if p.name != "SUMMARY.md"}
    assert on_disk == listed, (on_disk - listed, listed - on_disk)
