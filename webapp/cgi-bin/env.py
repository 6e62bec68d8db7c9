#!/usr/bin/env python3
"""A CGI script (SPEC §7): the meta-variables it received and its stdin, as JSON.

The environment is read as the process received it (/proc/self/environ): Python adds LC_CTYPE to its own
copy in a C locale (PEP 538), which the server never passed.
"""

import base64
import json
import os
import sys


def received() -> dict:
    try:
        with open("/proc/self/environ", "rb") as environ:
            pairs = [entry.partition(b"=") for entry in environ.read().split(b"\0") if entry]
        return {name.decode("latin-1"): value.decode("latin-1") for name, _, value in pairs}
    except OSError:  # no /proc: the copy is the best there is
        return dict(os.environ)


env = received()
stdin = sys.stdin.buffer.read(int(env.get("CONTENT_LENGTH") or 0))  # RFC 3875 §4.2: no more than that; no EOF owed
body = json.dumps({"env": env, "stdin_base64": base64.b64encode(stdin).decode()})
sys.stdout.write("Content-Type: application/json\r\n\r\n" + body)  # CRLF: stock passes the head on as written
