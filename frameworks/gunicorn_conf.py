"""gunicorn's configuration for the Flask app (`gunicorn --config python:frameworks.gunicorn_conf`).

Only the Server field of SPEC §3: gunicorn has no setting for it and sends its own before any the
application sets (its maintainers' advice, "set it in your application", gives two Server fields).
Its value is a module global read for every response, the usual way to change it.
"""

import gunicorn.http.wsgi

from frameworks import server_word

gunicorn.http.wsgi.SERVER = server_word("flask")
