"""The guestbook in Flask (WSGI): `gunicorn frameworks.flask_app:app`, one gthread worker.

Routes are decorated views; Flask adds HEAD to every GET route and answers OPTIONS itself, its router
gives 404 and 405 (with Allow), request.args, request.form and request.get_json parse the request, and
the static folder (send_from_directory: Content-Type, Last-Modified, 304) serves files. What Flask does
not say as SPEC §3 wants it, its error handlers reword: the plain-text error body.
"""

from base64 import b64encode
from typing import cast

from flask import Flask, jsonify, request, send_from_directory, url_for
from werkzeug.exceptions import HTTPException

from webapp.page import render
from webapp.store import utc_now_iso

from . import (
    DEFAULT_LIMIT,
    FORM,
    FORM_RULE,
    JSON,
    JSON_RULE,
    LIMIT_RULE,
    MAX_ID,
    MAX_LIMIT,
    MEDIA_RULE,
    STATIC_DIR,
    Refused,
    checked,
    error_text,
    open_store,
)

app = Flask(__name__, static_folder=STATIC_DIR, static_url_path="/static")
store = open_store()
TEXT = "text/plain; charset=utf-8"


@app.get("/")
def home():
    return render(store.latest(DEFAULT_LIMIT))  # bytes: Flask's default type, text/html; charset=utf-8


@app.get("/test.jpg")
def image():
    return send_from_directory(STATIC_DIR, "test.jpg")  # app.static_folder: STATIC_DIR, absolute


@app.get("/plaintext")
def plaintext():
    return "Hello, World!", {"Content-Type": TEXT}


@app.get("/time")
def time_now():
    return utc_now_iso(), {"Content-Type": TEXT}


@app.get("/messages")
def list_messages():
    limits = request.args.getlist("limit") or [str(DEFAULT_LIMIT)]
    if len(limits) != 1 or not (limits[0].isascii() and limits[0].isdigit() and 1 <= int(limits[0]) <= MAX_LIMIT):
        raise Refused(LIMIT_RULE)
    return jsonify(messages=store.latest(int(limits[0])))


@app.post("/messages")
def post_message():
    if request.mimetype == JSON:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise Refused(JSON_RULE)
        message = store.add(checked(data["text"]))
        return jsonify(message), 201, {"Location": url_for("one_message", message_id=message["id"])}
    if request.mimetype == FORM:
        if "text" not in request.form:
            raise Refused(FORM_RULE)
        store.add(checked(request.form["text"]))
        return "", 303, {"Location": "/"}
    raise Refused(MEDIA_RULE, 415)


@app.get("/messages/<int:message_id>")
def one_message(message_id: int):
    message = store.get(message_id) if message_id <= MAX_ID else None
    if message is None:
        return error(404)
    return jsonify(message)


@app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def echo():
    query = request.query_string.decode("latin-1")
    return jsonify(method=request.method, target=request.path + (f"?{query}" if query else ""),
                   version=request.environ["SERVER_PROTOCOL"], headers=[list(pair) for pair in request.headers],
                   body_base64=b64encode(request.get_data()).decode("ascii"))


def error(status: int, detail: str | None = None, headers=()):
    return error_text(status, detail), status, {"Content-Type": TEXT, **dict(headers)}


@app.errorhandler(Refused)
def refused(exc: Refused):
    return error(exc.status, exc.detail)


@app.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Flask's own 404, 405 (its Allow kept), 500 (Flask logged the traceback), in SPEC §3's words."""
    return error(cast(int, exc.code), headers=[(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"])
