"""The tutorial's page: the heading, the image, the guestbook form and its messages.

Every message is HTML-escaped here; nothing else renders user text.
"""

from html import escape

from .store import Message

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Wow, Python Server</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<h1>Wow, Python Server</h1>
<img src="/test.jpg" alt="A test image served by the same server" width="320" height="240">
<form method="post" action="/messages">
<label for="text">Leave a message</label>
<input type="text" id="text" name="text" maxlength="1000" required>
<button type="submit">Post</button>
</form>
<ol class="messages">
{items}</ol>
</body>
</html>
"""
ITEM = '<li id="message-{id}"><time datetime="{created}">{created}</time> <span class="text">{text}</span></li>\n'


def render(messages: list[Message]) -> bytes:
    """The page with `messages` (newest first), as UTF-8 bytes."""
    items = "".join(
        ITEM.format(id=m["id"], created=escape(m["created"]), text=escape(m["text"])) for m in messages
    )
    return TEMPLATE.format(items=items).encode("utf-8")
