"""What another tenant writes is text, never markup: object keys, CSV
headers, Parquet column names and values full of HTML, Markdown and
JavaScript go through `%s3 ls`, `%s3 head`, a SELECT, `%profile` (with its
Parquet footers), `%chart`, `%catalog` and `%set`, and every output the
kernel sends is checked as JupyterLab would render it: no Markdown (whose
escaping differs by renderer) and HTML whose only tags and attributes are
the ones Quarry writes itself.

JupyterLab renders outputs produced while running as trusted, so a single
unescaped key in a shared bucket would run script in the reader's origin.
"""

import io
from html.parser import HTMLParser

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.hostile import HOSTILE, KEYS, csv_of
from support.kernels import run_cell, start_quarry, stop

# The tags and attributes Quarry's own HTML uses (tables, code, paragraphs,
# the export link); anything else in an output came from data.
TAGS = {"div", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "code", "pre", "a", "span", "br", "small", "em", "i"}
ATTRIBUTES = {"class", "style", "href", "download", "title", "colspan"}


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name not in ATTRIBUTES:
                self.problems.append(f"{tag}[{name}]")
            if name == "href" and value and not (value.startswith("/") or value.startswith("http")):
                self.problems.append(f"href={value}")


def live_markup(outputs):
    """Everything in `outputs` that a browser would treat as markup from data."""
    problems = []
    for msg in outputs:
        data = msg["content"].get("data", {})
        if "text/markdown" in data:
            problems.append(("text/markdown", data["text/markdown"][:200]))
        if "text/html" in data:
            checker = Checker()
            checker.feed(data["text/html"])
            problems.extend(("text/html", p) for p in checker.problems)
    return problems


@pytest.fixture(scope="module")
def kernel(seaweed, oidc):
    admin = seaweed.admin()
    for i, key in enumerate(KEYS):
        admin.put_object(Bucket="data", Key=f"hostile/{key}.txt", Body=b"x")
        admin.put_object(Bucket="data", Key=f"hostile/{key}/inside.txt", Body=b"x")
    admin.put_object(Bucket="data", Key="hostile-data/table.csv", Body=csv_of(HOSTILE))
    columns = {f"c{i} {h}": [h, h.upper(), None] for i, h in enumerate(HOSTILE)}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    admin.put_object(Bucket="data", Key="hostile-data/table.parquet", Body=buffer.getvalue())
    credentials = seaweed.assume_role(oidc.mint("bob"))
    km, kc = start_quarry(env=seaweed.env_for(credentials))
    yield kc
    stop(km, kc)


CELLS = [
    "%s3 ls s3://data/hostile/",
    "%s3 head s3://data/hostile-data/table.csv",
    "%s3 head s3://data/hostile-data/table.parquet",
    "SELECT * FROM 's3://data/hostile-data/table.csv'",
    "SELECT * FROM 's3://data/hostile-data/table.parquet'",
    "%profile 's3://data/hostile-data/table.parquet'",
    "%profile 's3://data/hostile-data/table.parquet' --footer",
    "%profile 's3://data/hostile-data/table.csv'",
    f"%chart bar\nSELECT \"c0 {HOSTILE[0]}\" AS \"{HOSTILE[1]}\", count(*) AS n FROM 's3://data/hostile-data/table.parquet' GROUP BY 1",
    "CREATE EXTERNAL TABLE hostile_csv STORED AS CSV LOCATION 's3://data/hostile-data/table.csv' OPTIONS ('format.has_header' 'true');\n%catalog",
    f'%set x = "{HOSTILE[2]}"\n%set',
]


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.split()[0] + " " + c.split()[1][:20])
def test_data_shows_as_text_never_markup(kernel, cell):
    if "\n%" in cell:
        first, magic = cell.split("\n", 1)
        reply, _ = run_cell(kernel, first, timeout=120)
        assert reply["status"] == "ok", reply.get("evalue")
        cell = magic
    reply, outputs = run_cell(kernel, cell, timeout=120)
    assert reply["status"] == "ok", (cell, reply.get("evalue"))
    shown = [m for m in outputs if m["msg_type"] in ("display_data", "execute_result", "update_display_data")]
    assert shown, outputs
    assert live_markup(shown) == []
    # The strings arrive intact as text (a listing shows every key).
    text = "".join(m["content"]["data"].get("text/plain", "") for m in shown)
    if cell.startswith("%s3 ls"):
        for key in KEYS:
            # A `/` in a key makes a folder: the listing shows its first level.
            assert key.split("/")[0] in text, key


def test_the_checker_catches_markup(kernel):
    """The check itself fails on the wrong design: raw data in HTML, or any
    Markdown output."""
    bad_html = {"msg_type": "display_data", "content": {"data": {"text/html": f"<td>{HOSTILE[0]}</td>"}}}
    bad_md = {"msg_type": "display_data", "content": {"data": {"text/markdown": "| `x` |"}}}
    assert live_markup([bad_html]) == [("text/html", "<img>"), ("text/html", "img[src]"), ("text/html", "img[onerror]")]
    assert live_markup([bad_md])[0][0] == "text/markdown"
