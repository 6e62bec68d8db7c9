"""The server on `socketserver`: its loop and mixins, http11 for the parsing."""
