"""validate's advice about columns the tables do not have."""

from __future__ import annotations

import pytest

from sqlgate.sql.unknown import unknown_columns

TABLES = {"Album": ["AlbumId", "Title", "ArtistId"], "Artist": ["ArtistId", "Name"]}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a.Title, ar.Name, bogus FROM Album a JOIN Artist ar USING (ArtistId)", "bogus"),
        ("SELECT Album.Nope FROM Album", "nope"),
        ("SELECT Title AS t FROM Album ORDER BY t", None),
        ("SELECT count(*) AS n FROM Album GROUP BY 1 HAVING n > 1", None),
        ("WITH x AS (SELECT 1 AS k) SELECT k FROM x", None),
        ("SELECT t.n FROM (SELECT Name AS n FROM Artist) t", None),
        ("SELECT Name FROM Artist UNION SELECT Title FROM Album ORDER BY 1", None),
        ("SELECT * FROM Album WHERE Title LIKE :t", None),
        (
            "SELECT ar.Name, (SELECT count(*) FROM Album al WHERE al.ArtistId = ar.ArtistId) "
            "FROM Artist ar",
            None,
        ),
    ],
)
def test_unknown_columns(sql: str, expected: str | None) -> None:
    found = unknown_columns(sql, "sqlite", TABLES)
    assert [f.lower() for f in found] == ([expected] if expected else [])


def test_api_validate_names_the_unknown_column(client, org) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/query/chinook/validate",
        json={"query": "SELECT Title, Nonsense FROM Album"},
        headers=org.headers(),
    )
    body = r.json()
    assert body["is_valid"] is True
    assert body["warning"].lower() == "unknown column: nonsense"
