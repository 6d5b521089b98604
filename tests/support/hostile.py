"""Strings another tenant can put in an object key, a CSV header, a Parquet
column name or a value, each of which would run script (setting
`window.__quarryPwned`) or break a table if it were rendered as markup."""

HOSTILE = [
    "<img src=x onerror=window.__quarryPwned=1>",
    "<script>window.__quarryPwned=1</script>",
    "`</code><img src=x onerror=window.__quarryPwned=1>`",
    "[click](javascript:window.__quarryPwned=1)",
    "![x](javascript:window.__quarryPwned=1)",
    "a | b | c",
    "two\nlines",
    '"><svg onload=window.__quarryPwned=1>',
]

#: Keys cannot hold a newline in every S3 server; the rest go in keys.
KEYS = [h for h in HOSTILE if "\n" not in h]


def csv_of(strings):
    """A CSV whose header and two rows are `strings`, quoted as CSV quotes."""
    line = ",".join('"' + s.replace('"', '""') + '"' for s in strings)
    return f"{line}\n{line}\n{line}\n".encode()
