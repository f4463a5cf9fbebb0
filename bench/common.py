"""What the benchmark scripts share."""

from __future__ import annotations


def fresh_database(pg: str, name: str) -> str:
    """Drop and create the database ``name`` on the server ``pg`` (a URL without a database);
    returns its URL."""
    import psycopg2
    from psycopg2 import sql

    admin = psycopg2.connect(f"{pg}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    return f"{pg}/{name}"
