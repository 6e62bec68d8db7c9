"""The raw-request corpus and the client that sends it; no server code."""
