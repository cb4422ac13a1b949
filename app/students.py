"""One page of the students list as JSON: encoded once per read, the views
added per answer."""

import html
from dataclasses import dataclass
from typing import Any

import orjson

Row = dict[str, Any]


def html_encoded(row: Row) -> Row:
    """The row's text fields HTML-encoded, in place.

    The page writes them with innerHTML, which decodes the entities: text
    shows as written ("O'Brien", "R&D"), and markup shows as text instead of
    becoming elements (a stored <meta http-equiv=refresh> would redirect every
    visitor, and no CSP directive governs it).
    """
    for key, value in row.items():
        if isinstance(value, str):
            row[key] = html.escape(value, quote=True)
    return row


@dataclass(frozen=True)
class StudentsPage:
    """Rows in id order, each kept as its JSON object without the closing
    brace, so that an answer only appends its `views` and joins them."""

    objects: tuple[bytes, ...]
    # The cursor of the next page (the last id here), when more rows follow.
    next_after: int | None

    @classmethod
    def encode(cls, rows: list[Row], limit: int) -> "StudentsPage":
        """`rows`: up to limit + 1 of them, the extra one telling that more follow."""
        shown = rows[:limit]
        objects = tuple(orjson.dumps(html_encoded(dict(row)))[:-1] for row in shown)
        return cls(objects, shown[-1]["id"] if len(rows) > limit else None)

    def body(self, views: int | None) -> bytes:
        """The JSON array, every object with `views`, or without the key (what
        the page shows as "N/A (Cache HS)") when there is no count."""
        if not self.objects:
            return b"[]"
        end = b"}" if views is None else b',"views":%d}' % views
        return b"[" + (end + b",").join(self.objects) + end + b"]"
