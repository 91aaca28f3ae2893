"""PROPFIND request bodies and the parsing of WebDAV multistatus answers into Entry objects.

Listings are parsed with ``lxml.etree.iterparse`` (a Depth-infinity answer on a big library is
megabytes), never with external entities or network access.
"""
from __future__ import annotations

import re
from typing import Callable

from lxml import etree

from ..base import Entry
from .errors import BadResponse
from .transport import parse_http_date

DAV_NS = "DAV:"
OC_NS = "http://owncloud.org/ns"
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getetag/><d:getlastmodified/><d:getcontentlength/>"
    b"<oc:fileid/><oc:size/>"
    b"</d:prop></d:propfind>"
)
#: For ``stat`` (Depth 0): also the server's data fingerprint, which Nextcloud reports on every
#: node; asked only here so that listings do not repeat it for every child.
STAT_BODY = PROPFIND_BODY.replace(b"<oc:size/>", b"<oc:size/><oc:data-fingerprint/>")
PRINCIPAL_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>'
)
_T_RESPONSE = f"{{{DAV_NS}}}response"
_T_HREF = f"{{{DAV_NS}}}href"
_T_PROPSTAT = f"{{{DAV_NS}}}propstat"
_T_PROP = f"{{{DAV_NS}}}prop"
_T_STATUS = f"{{{DAV_NS}}}status"
_T_RESOURCETYPE = f"{{{DAV_NS}}}resourcetype"
_T_COLLECTION = f"{{{DAV_NS}}}collection"
_T_ETAG = f"{{{DAV_NS}}}getetag"
_T_MODIFIED = f"{{{DAV_NS}}}getlastmodified"
_T_LENGTH = f"{{{DAV_NS}}}getcontentlength"
_T_FILEID = f"{{{OC_NS}}}fileid"
_T_OCSIZE = f"{{{OC_NS}}}size"
_T_DATA_FINGERPRINT = f"{{{OC_NS}}}data-fingerprint"


def clean_etag(raw: str | None) -> str | None:
    """An ETag without ``W/`` and quotes (servers differ: Nextcloud quotes, wsgidav does not)."""
    if raw is None:
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    return value or None


class CountingReader:
    """A file-like view of a urllib3 response body that counts the bytes it hands out."""

    def __init__(self, raw, count: Callable[[int], None]):
        self._raw, self._count = raw, count

    def read(self, n: int = -1) -> bytes:
        chunk = self._raw.read(n if n and n > 0 else 64 * 1024, decode_content=True)
        if chunk:
            self._count(len(chunk))
        return chunk


def parse_multistatus(raw, count: Callable[[int], None], rel_from_href: Callable[[str], str],
                      what: str) -> list[Entry]:
    """The entries of a PROPFIND answer read from the file-like ``raw`` (a urllib3 body),
    passing each block's size to ``count``. ``rel_from_href`` turns an ``href`` into a
    library-relative path (raising BadResponse for one outside the library); ``what`` names the
    listed path in errors. Raises BadResponse on malformed XML."""
    # iterparse, never fromstring: a Depth-infinity answer on a big library is megabytes.
    reader = CountingReader(raw, count)
    entries = []
    try:
        for _, el in etree.iterparse(reader, events=("end",), tag=_T_RESPONSE,
                                     resolve_entities=False, no_network=True, load_dtd=False):
            entry = entry_from(el, rel_from_href)
            if entry is not None:
                entries.append(entry)
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise BadResponse(f"PROPFIND {what}: malformed XML from the server: {exc}") from exc
    return entries


def entry_from(el, rel_from_href: Callable[[str], str]) -> Entry | None:
    """The Entry one ``d:response`` element describes, or None when it has no href or no
    property came back with status 200."""
    href = el.findtext(_T_HREF)
    if not href:
        return None
    props = {}
    for propstat in el.iterfind(_T_PROPSTAT):
        status = (propstat.findtext(_T_STATUS) or "").split()
        if len(status) < 2 or status[1] != "200":
            continue  # 404 propstats: properties this server does not have (oc:* on plain)
        prop = propstat.find(_T_PROP)
        if prop is not None:
            for child in prop:
                props[child.tag] = child
    if not props:
        return None
    rel = rel_from_href(href)
    rtype = props.get(_T_RESOURCETYPE)
    is_dir = rtype is not None and rtype.find(_T_COLLECTION) is not None
    mtime = parse_http_date(_text(props.get(_T_MODIFIED)))
    if is_dir:
        size = _int(_text(props.get(_T_OCSIZE)))
    else:
        size = _int(_text(props.get(_T_LENGTH)) or _text(props.get(_T_OCSIZE)))
    etag = clean_etag(_text(props.get(_T_ETAG)))
    if etag is None:
        etag = f"{size:x}-{int(mtime):x}"  # no ETag from this server: derive one
    fileid = _text(props.get(_T_FILEID)) or None
    return Entry(path=rel, name=rel.rsplit("/", 1)[-1], is_dir=is_dir, size=size,
                 mtime=mtime, etag=etag, fileid=fileid,
                 data_fingerprint=_text(props.get(_T_DATA_FINGERPRINT)))


def principal_href(body: bytes) -> str | None:
    """The ``d:current-user-principal`` href of a PROPFIND answer, or None."""
    try:
        tree = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False,
                                                              no_network=True))
    except etree.XMLSyntaxError:
        return None
    return tree.findtext(f".//{{{DAV_NS}}}current-user-principal/{{{DAV_NS}}}href")


def failed_statuses(body: bytes) -> list[int]:
    """The non-2xx statuses, sorted and distinct, in the 207 answer of a MOVE or DELETE that
    partly failed (RFC 4918 §9.6.1, §9.9.4)."""
    failures = re.findall(rb"HTTP/1\.[01] (\d{3})", body)
    return sorted({int(code) for code in failures if not code.startswith(b"2")})


def _text(el) -> str | None:
    if el is None:
        return None
    return (el.text or "").strip() or None


def _int(raw: str | None) -> int:
    try:
        return int(float(raw)) if raw else 0
    except ValueError:
        return 0

