#!/bin/sh
# The smallest CGI script (SPEC §7): a header, a blank line, the body. It costs one fork+exec of /bin/sh.
# CRLF, though the gateway takes bare LF too: stock CGIHTTPRequestHandler passes the head to the client as written.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nHello, World!'
