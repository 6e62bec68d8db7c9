#!/bin/sh
# The smallest CGI script (SPEC §7): a header, a blank line, the body. It costs one fork+exec of /bin/sh.
printf 'Content-Type: text/plain; charset=utf-8\n\nHello, World!'
