"""The server on `asyncio`: the standard library's event loop and transports, http11 for the parsing."""
