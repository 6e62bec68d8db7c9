"""The RFC 9110/9112 grammar of a request head, as checks on bytes.

Each check either returns the parsed value or raises ProtocolError with the
status SPEC §5 names. Pure functions: no buffering, no socket, no state.
"""

import re
from functools import lru_cache
from http import HTTPStatus

from .errors import ProtocolError
from .limits import MAX_BODY, MAX_FIELD_LINE, MAX_METHOD, MAX_REQUEST_LINE

BAD = HTTPStatus.BAD_REQUEST
CHUNKED = -1  # body_length() for a chunked body

_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN = _TCHAR + rb"+"
_token = re.compile(_TOKEN)


def is_token(name: bytes) -> bool:
    """RFC 9110 §5.6.2: one or more tchar (a method, a field name, a coding)."""
    return _token.fullmatch(name) is not None
_version = re.compile(rb"HTTP/([0-9])\.([0-9])")
# A value without its surrounding white space; each white-space run is taken whole (possessive),
# so a long run costs one pass, not a backtrack per character.
_field = re.compile(rb"(" + _TOKEN + rb"):[ \t]*+((?:[^ \t]++|[ \t]++(?!\Z))*)[ \t]*")
_VALUE_CHAR = rb"[\t\x20-\x7e\x80-\xff]"
_field_value = re.compile(_VALUE_CHAR + rb"*")
_PATH_CHAR = rb"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]"
_path_chars = re.compile(_PATH_CHAR + rb"*")
_bad_percent = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_decoded_ctl = re.compile(rb"%(?:00|0[aAdD])")
_absolute = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*://([^/?]*)(.*)")
_host = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?"
)
_authority = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]+):[0-9]+")
_decimal = re.compile(rb"0|[1-9][0-9]*")
MAX_LENGTH_DIGITS = 19  # 2**63 - 1 has 19 digits

SUPPORTED_VERSIONS = {(1, 0): "HTTP/1.0", (1, 1): "HTTP/1.1"}


def strip_cr(line: bytes) -> bytes:
    """Drop a CRLF's CR; any other CR in a head line is a bare CR (RFC 9112 §2.2)."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if b"\r" in line:
        raise ProtocolError(BAD, "bare CR in the head")
    return line


def check_request_line(raw: bytes) -> tuple[str, str, str]:
    """method SP request-target SP version, exactly (RFC 9112 §3); `raw` is the line without its LF."""
    if method_too_long(raw):  # before the line's own limit: a 100 kB method is a bad method (SPEC §5)
        raise ProtocolError(BAD, "method is not a token of at most 32 characters")
    if len(raw) - raw.endswith(b"\r") > MAX_REQUEST_LINE:
        raise ProtocolError(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long")
    parts = strip_cr(raw).split(b" ")
    if len(parts) != 3:
        raise ProtocolError(BAD, "request line is not method SP target SP version")
    method, target, version = parts
    return check_method(method), check_target(method, target), check_version(version)


def method_too_long(buffer: bytes | bytearray) -> bool:
    """SPEC §5: more than MAX_METHOD bytes arrived and no space ended the method: 400 now, not at the line's end."""
    return len(buffer) > MAX_METHOD and b" " not in buffer[: MAX_METHOD + 1] and b"\n" not in buffer[: MAX_METHOD + 1]


def check_method(method: bytes) -> str:
    if len(method) > MAX_METHOD or not _token.fullmatch(method):
        raise ProtocolError(BAD, "method is not a token of at most 32 characters")
    return method.decode("ascii")


def check_version(version: bytes) -> str:
    match = _version.fullmatch(version)
    if not match:
        raise ProtocolError(BAD, "malformed HTTP version")
    numbers = (int(match[1]), int(match[2]))
    if numbers not in SUPPORTED_VERSIONS:
        raise ProtocolError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.0 and HTTP/1.1")
    return SUPPORTED_VERSIONS[numbers]


def check_target(method: bytes, target: bytes) -> str:
    """origin-form, absolute-form, `*` for OPTIONS, authority-form for CONNECT."""
    if method == b"CONNECT":
        if not _authority.fullmatch(target):
            raise ProtocolError(BAD, "CONNECT needs an authority-form target")
    elif target == b"*":
        if method != b"OPTIONS":
            raise ProtocolError(BAD, "asterisk-form is for OPTIONS only")
    elif target.startswith(b"/"):
        check_path(target)
    else:
        check_absolute(target)
    return target.decode("ascii")


def check_path(path: bytes) -> None:
    if not _path_chars.fullmatch(path) or _bad_percent.search(path):
        raise ProtocolError(BAD, "request target holds a character the URI grammar forbids")
    if _decoded_ctl.search(path.partition(b"?")[0]):
        raise ProtocolError(BAD, "decoded path holds NUL, CR or LF")


def check_absolute(target: bytes) -> None:
    match = _absolute.fullmatch(target)
    if not match or not _host.fullmatch(match[1]):
        raise ProtocolError(BAD, "request target is not origin-form or absolute-form")
    if match[2]:
        if match[2][:1] == b"?":
            check_path(b"/" + match[2])
        else:
            check_path(match[2])


def origin_path(target: str) -> str:
    """The path-and-query part of a checked target (absolute-form -> its path)."""
    if target.startswith("/") or target == "*":
        return target
    scheme_end = target.find("://")
    if scheme_end < 0:  # authority-form (CONNECT)
        return target
    rest = target[scheme_end + 3 :]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    path = rest[cut:]
    return path if path.startswith("/") else "/" + path


def check_field_line(raw: bytes) -> tuple[str, str]:
    """field-name ":" OWS field-value OWS (RFC 9112 §5), no obs-fold; `raw` is the line without its LF."""
    if len(raw) - raw.endswith(b"\r") > MAX_FIELD_LINE:
        raise ProtocolError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "header line too long")
    line = strip_cr(raw)
    if line[:1] in (b" ", b"\t"):
        raise ProtocolError(BAD, "obs-fold or white space before a field")
    match = _field.fullmatch(line)
    if not match:
        raise ProtocolError(BAD, "field line is not token ':' value")
    if not _field_value.fullmatch(match[2]):
        raise ProtocolError(BAD, "control character in a field value")
    return match[1].decode("ascii"), match[2].decode("latin-1")


Fields = dict[str, list[str]]  # every value of each field, by lower-case name, in order


def index(headers: list[tuple[str, str]]) -> Fields:
    """The fields by lower-case name: one pass, then every check below is a lookup."""
    fields: Fields = {}
    for name, value in headers:
        key = name.lower()
        if key in fields:
            fields[key].append(value)
        else:
            fields[key] = [value]
    return fields


def split_list(value: str) -> list[str]:
    """A #rule list: comma separated, optional white space around members."""
    return [member.strip(" \t") for member in value.split(",")]


def check_host(version: str, fields: Fields) -> None:
    """Exactly one valid Host on HTTP/1.1; at most one valid Host on HTTP/1.0."""
    hosts = fields.get("host", ())
    if not hosts and version == "HTTP/1.0":
        return
    if len(hosts) != 1:
        raise ProtocolError(BAD, "an HTTP/1.1 request needs exactly one Host")
    if not valid_host(hosts[0]):
        raise ProtocolError(BAD, "Host is not host[:port]")


@lru_cache(maxsize=256)  # a connection sends the same Host on every request: the match is made once
def valid_host(value: str) -> bool:
    return _host.fullmatch(value.encode("latin-1")) is not None


def body_length(version: str, fields: Fields) -> int:
    """How the body is framed (RFC 9112 §6.3): a length, or CHUNKED."""
    codings = fields.get("transfer-encoding")
    lengths = fields.get("content-length")
    if codings and lengths:
        raise ProtocolError(BAD, "both Content-Length and Transfer-Encoding")
    if codings:
        return check_transfer_encoding(version, codings)
    if lengths:
        return check_content_length(lengths)
    return 0


def check_transfer_encoding(version: str, fields: list[str]) -> int:
    if version == "HTTP/1.0":
        raise ProtocolError(BAD, "Transfer-Encoding on an HTTP/1.0 request")
    if len(fields) > 1:
        raise ProtocolError(BAD, "Transfer-Encoding in more than one field")
    codings = [coding.lower() for coding in split_list(fields[0])]
    if not all(_token.fullmatch(coding.encode("latin-1")) for coding in codings):
        raise ProtocolError(BAD, "Transfer-Encoding is not a list of codings")
    if codings[-1] != "chunked" and len(codings) > 1:
        raise ProtocolError(BAD, "the last transfer coding is not chunked")
    if any(coding != "chunked" for coding in codings):
        raise ProtocolError(HTTPStatus.NOT_IMPLEMENTED, "only the chunked coding is implemented")
    if len(codings) > 1:
        raise ProtocolError(BAD, "chunked applied more than once")
    return CHUNKED


def check_content_length(fields: list[str]) -> int:
    members = {member for field in fields for member in split_list(field)}
    if len(members) != 1:
        raise ProtocolError(BAD, "Content-Length values differ")
    (member,) = members
    if not _decimal.fullmatch(member.encode("latin-1")):
        raise ProtocolError(BAD, "Content-Length is not plain decimal digits")
    if len(member) > MAX_LENGTH_DIGITS or int(member) >= 2**63:  # the length check first: int() of 5000 digits raises
        raise ProtocolError(BAD, "Content-Length does not fit in 63 bits (unparseable framing, RFC 9112 §6.3)")
    length = int(member)
    if length > MAX_BODY:
        raise ProtocolError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "declared body over the limit")
    return length


def connection_options(fields: Fields) -> set[str]:
    return {option.lower() for field in fields.get("connection", ()) for option in split_list(field)}


def keep_alive(version: str, fields: Fields) -> bool:
    """RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`."""
    if "connection" not in fields:
        return version == "HTTP/1.1"
    options = connection_options(fields)
    if "close" in options:
        return False
    return version == "HTTP/1.1" or "keep-alive" in options


def expectation(version: str, fields: Fields) -> str | None:
    """'continue' for 100-continue on HTTP/1.1, 'unmet' for any other Expect, else None."""
    expects = fields.get("expect")
    if not expects:
        return None
    if [value.lower() for value in expects] == ["100-continue"]:
        return "continue" if version == "HTTP/1.1" else None
    return "unmet"
