"""The few SQL helpers the projection folds share: batched inserts and deletes."""

from __future__ import annotations

from appliance.db import database

CHUNK = 500  # ids per IN (...): well under SQLite's limit on bound variables


def insert_sql(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'{verb} INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'


def chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: list) -> str:
    return ", ".join("?" * len(items))


def executemany(sql: str, rows: list[tuple]) -> None:
    if rows:
        database.cursor().executemany(sql, rows)


def delete_where_in(table: str, column: str, values: list[str]) -> None:
    for chunk in chunks(values):
        database.execute_sql(f'DELETE FROM "{table}" WHERE "{column}" IN ({marks(chunk)})', chunk)
