"""A page of students encoded once, then served with each answer's views."""

import json

from app.students import StudentsPage

ROWS = [{"id": 1, "nom": "Zoé O'Brien", "promo": "M2 R&D"}, {"id": 2, "nom": "<b>x</b>", "promo": "M2"}]


def test_each_answer_is_the_rows_with_its_views_or_without_the_key() -> None:
    page = StudentsPage.encode(ROWS, limit=5)
    with_views = json.loads(page.body(42))
    assert [row["views"] for row in with_views] == [42, 42]
    assert [row["id"] for row in with_views] == [1, 2]
    assert all("views" not in row for row in json.loads(page.body(None)))
    assert page.next_after is None


def test_text_is_html_encoded_and_the_rows_given_are_left_alone() -> None:
    rows = [dict(row) for row in ROWS]
    served = json.loads(StudentsPage.encode(rows, limit=5).body(None))
    assert served[0]["nom"] == "Zoé O&#x27;Brien" and served[0]["promo"] == "M2 R&amp;D"
    assert served[1]["nom"] == "&lt;b&gt;x&lt;/b&gt;"
    assert rows == ROWS


def test_the_row_past_the_limit_only_says_that_another_page_follows() -> None:
    page = StudentsPage.encode(ROWS, limit=1)
    assert [row["id"] for row in json.loads(page.body(7))] == [1]
    assert page.next_after == 1


def test_an_empty_page_is_an_empty_array() -> None:
    assert json.loads(StudentsPage.encode([], limit=5).body(3)) == []
