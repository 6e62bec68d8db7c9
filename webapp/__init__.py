"""The application, once for every layer: routes, the message store, the page, static files.

It knows http11's Request and Response and nothing of sockets or layers.
"""

from .app import App

__all__ = ["App"]
