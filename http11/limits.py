"""The size limits of the contract (SPEC §5), owned here and nowhere else.

Layers import these numbers; they must not restate them.
"""

MAX_REQUEST_LINE = 8190  # bytes, without the line terminator -> 414
MAX_METHOD = 32  # characters -> 400
MAX_FIELD_LINE = 8190  # bytes of one header line, without its terminator -> 431
MAX_FIELDS = 100  # header fields in one head -> 431
MAX_HEADER_SECTION = 65536  # bytes of all field lines with their terminators -> 431
MAX_BODY = 1024 * 1024  # decoded body bytes, declared or reached -> 413
MAX_CHUNK_LINE = 4096  # bytes of a chunk-size line with its extensions -> 400
MAX_CHUNK_SIZE_DIGITS = 16  # hex digits of a chunk size -> 400

# SPEC §4: what may wait to be sent on one connection beyond the answer being sent; a file larger than one
# piece is read and sent a piece at a time, as the client takes them (the Session holds one answer or piece).
OUTPUT_BUDGET = 64 * 1024
FILE_PIECE = OUTPUT_BUDGET
