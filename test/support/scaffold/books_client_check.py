"""The Python client `npm run generate` writes for a service made by `npm run new:service -- books`
(generated/python/charter_books_client, by openapi-python-client), against a live gateway: a create, a read and a
missing read. BASE is the gateway's URL, TOKEN a bearer token with books:read and books:write. Prints one JSON line."""

import json
import os

from charter_books_client import AuthenticatedClient
from charter_books_client.api.books import create_book, get_book
from charter_books_client.models import Book, CreateBookBody, Problem

client = AuthenticatedClient(base_url=os.environ["BASE"], token=os.environ["TOKEN"])
created = create_book.sync_detailed(client=client, body=CreateBookBody(name="Middlemarch"))
assert isinstance(created.parsed, Book), created
read = get_book.sync(client=client, id=created.parsed.id)
assert isinstance(read, Book), read
missing = get_book.sync_detailed(client=client, id="1")
assert isinstance(missing.parsed, Problem), missing
print(
    json.dumps(
        {
            "created": int(created.status_code),
            "name": read.name,
            "etag": read.etag,
            "missing": int(missing.status_code),
            "code": str(missing.parsed.code),
        }
    )
)
