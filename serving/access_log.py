"""The --access-log line, Common Log Format, the same on every layer."""

import sys
import time

from http11 import Address


def log_request(client: Address, request_line: str, status: int, size: int) -> None:
    """host ident authuser [date] "request line" status bytes, on stderr in one write."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    line = f'{client[0]} - - [{stamp}] "{request_line}" {status} {size or "-"}\n'
    sys.stderr.write(line)
    sys.stderr.flush()
