"""The library on Nextcloud (or any WebDAV server). This one package wraps all WebDAV access.

Layout: ``<NEXTCLOUD_URL>/remote.php/dav/files/<user id>/<NEXTCLOUD_ROOT>/`` is the storage root
and library paths are relative to it (``Songs/Artist/Name``), exactly as in the local folder.
The user id in that path is read once from the server (OCS ``/ocs/v2.php/cloud/user``), because
it is not always the login name (LDAP, OIDC and e-mail logins) [Nextcloud doc
``developer_manual/client_apis/WebDAV/basic.rst``; ``../shared/reference/nextcloud-webdav.md``
§1.1].

webdavclient3 (the design card's WebDAV package) and what is ours
-----------------------------------------------------------------
Used from webdavclient3 (``webdav3``):

- ``webdav3.client.Client`` holds and validates the connection options (``WebDAVSettings``:
  hostname, login, password, root path) and is the sender of the plain verbs whose semantics it
  gets right: ``Client.execute_request`` for **GET** (streamed: ``read``, ``read_range``,
  ``open``), **DELETE** and **MKCOL**. Our ``requests.Session`` (pool, no cookies, Basic auth)
  and our ``(connect, read)`` timeout are put into that client, so those requests share the one
  pool and go through the same retry loop and error mapping as ours.

Ours, and why (reference §2.3 lists the webdavclient3 3.14.7 code this is based on):

- PROPFIND: its ``list``/``info`` send a bodiless allprop request (no ``oc:fileid``/``oc:size``),
  use Depth 1 to describe one node, HEAD before each call and parse the whole body with
  ``fromstring``. Ours asks for exactly ``d:getetag d:getlastmodified d:getcontentlength
  d:resourcetype oc:fileid oc:size`` (and ``oc:data-fingerprint`` on Depth 0) with Depth 0/1
  (infinity only when the server is seen to honour it) and parses the multistatus with
  ``lxml.etree.iterparse``.
- PUT: its ``upload_*`` have no ``If-Match``, no ``X-OC-Mtime`` and no chunked upload;
  ``upload_directory`` deletes the remote directory first. Never call it.
- MOVE: ours sends ``Overwrite: F`` and maps 412 to AlreadyExists; its ``move`` HEADs first and
  turns 412 into a generic error.
- ``Client.mkdir`` prints to stdout and HEADs every parent, so we call ``execute_request``
  (``"mkdir"``) ourselves and create missing parents on 409.
- It has no retries, one timeout number and keeps cookies: the retry loop (backoff with jitter,
  ``Retry-After``), the timeouts and the cookie policy are ours.
- Chunked upload v2 [doc ``chunking.rst``] for files above ``NEXTCLOUD_CHUNK_THRESHOLD``.

Reliability rules (reference §1.2, §1.3): a 401 is never retried and makes the storage refuse
every later request in this process (Nextcloud's brute-force protection counts failures per
IP, then throttles every client behind it); 423, 429, 500, 502, 503, 504 and connection errors
are retried with exponential backoff and jitter, honouring ``Retry-After`` (non-idempotent MOVE
only on 423/429/503 and on connections that were never made); no cookies are kept (Nextcloud
answers ``401 CSRF check not passed`` when its session cookies come back with Basic auth).

Modules, one job each: ``transport`` (the session, the retry loop with backoff, the mapping of
HTTP statuses to our StorageError subclasses, webdavclient3's client), ``multistatus``
(PROPFIND bodies and the parsing of multistatus answers), ``uploads`` (PUT with
``X-OC-Mtime``/``If-Match``, chunked upload v2), ``remote_file`` (the resuming reader of a
remote file), ``storage`` (``WebDavStorage``, tying them together), ``status`` (reachability
for the dashboard and ``/health``), ``errors``.
"""
from ..base import InsufficientStorage
from .errors import AuthenticationFailed, BadResponse, PermissionDenied, StorageUnavailable
from .multistatus import clean_etag
from .status import _STATUS_CACHE, STATUS_TTL, nextcloud_status
from .storage import ServerInfo, WebDavStorage

__all__ = [
    "STATUS_TTL",
    "AuthenticationFailed",
    "BadResponse",
    "InsufficientStorage",
    "PermissionDenied",
    "ServerInfo",
    "StorageUnavailable",
    "WebDavStorage",
    "_STATUS_CACHE",
    "clean_etag",
    "nextcloud_status",
]
