"""The one error the parser raises: the status a server should answer with."""

from http import HTTPStatus


class ProtocolError(Exception):
    """The request cannot be served; `status` is what to answer, then close.

    Like h11's `error_status_hint`: the parser knows which status fits, the
    layer only turns it into bytes.
    """

    def __init__(self, status: HTTPStatus, detail: str) -> None:
        super().__init__(f"{int(status)} {status.phrase}: {detail}")
        self.status = status
        self.detail = detail
