"""The server on `http.server`: its loop, mixins and parsing, with the contract's gaps filled."""
