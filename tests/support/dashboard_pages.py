"""Reading the dashboard's pages in tests: the text of a table's rows, as a person reads them.

`table_rows(html, table_id)` gives each body row of ``<table id=...>`` as a list of cell texts
(whitespace collapsed), so tests compare what a page shows with what the store holds rather than
searching for substrings that could match anywhere. Standard library only (`html.parser`).
"""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0  # > 0 while inside the wanted table (nested tables count)
        self.in_body = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.depth and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth and self.in_body and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag == "tbody":
            self.in_body = False
        elif self.cell is not None and tag in ("td", "th"):
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with id `table_id`; AssertionError if the page has none."""
    parser = _Tables(table_id)
    parser.feed(html)
    assert f'id="{table_id}"' in html, f"the page has no table {table_id!r}"
    return parser.rows
