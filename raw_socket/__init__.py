"""The server on the bare `socket` module: everything by hand, http11 for the parsing."""
