"""Registry authentication, sans-IO: challenges in, requests to make out.

Implements

* RFC 7235 ``WWW-Authenticate`` parsing (``Bearer realm="...",service="...",scope="..."``,
  ``Basic realm="..."``), several challenges in one header included;
* the distribution token flow (``docs/spec/auth/token.md``): on a 401 with a Bearer
  challenge, ``GET realm?service=...&scope=...`` (HTTP basic auth with the user's
  credentials, none when anonymous) answers ``{"token": ...}`` or ``{"access_token": ...}``;
* scopes: ``repository:library/busybox:pull`` (``pull,push`` for a push);
* Docker's ``X-Registry-Auth`` header: base64url of ``{"username", "password",
  "serveraddress", "identitytoken", "registrytoken"}``.

:class:`Authenticator` is the state machine the HTTP client drives: it answers
"what Authorization header now?" and "a 401 came with this challenge: what next?"
(a :class:`TokenRequest` to perform, a Basic header to retry with, or an error).
No sockets here; every function is tested in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from dataclasses import dataclass, field

from pouch.errors import InvalidArgument, PouchError


class Unauthorized(PouchError):
    status = 401


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    server: str = ""
    identity_token: str = ""
    registry_token: str = ""

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)


ANONYMOUS = Credentials()


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(,)?')
_SCHEME_RE = re.compile(rf"\s*,?\s*({_TOKEN})(?:\s+|$)")


def parse_challenges(header: str) -> list[Challenge]:
    """All challenges of one ``WWW-Authenticate`` value (RFC 7235 section 4.1)."""
    challenges: list[Challenge] = []
    pos, text = 0, header or ""
    while pos < len(text):
        match = _SCHEME_RE.match(text, pos)
        if not match:
            break
        scheme, pos = match.group(1).lower(), match.end()
        params: dict[str, str] = {}
        while pos < len(text):
            param = _PARAM_RE.match(text, pos)
            if not param:
                break
            # a token followed by whitespace and another token is the next challenge's scheme
            name, quoted, bare, comma = param.groups()
            params[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            pos = param.end()
            if not comma:
                break
        challenges.append(Challenge(scheme, params))
    return challenges


def repository_scope(repository: str, actions: tuple[str, ...] = ("pull",)) -> str:
    """``repository:library/busybox:pull,push`` (the path, without the registry host)."""
    return f"repository:{repository}:{','.join(actions)}"


def basic_header(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


@dataclass(frozen=True)
class TokenRequest:
    """A GET the client must perform; ``headers`` carries basic auth when not anonymous."""

    url: str
    headers: dict[str, str]
    scopes: tuple[str, ...]


def token_request(challenge: Challenge, scopes: tuple[str, ...], creds: Credentials) -> TokenRequest:
    realm = challenge.params.get("realm", "")
    if not realm.startswith(("http://", "https://")):
        raise Unauthorized(f"registry sent a Bearer challenge without a usable realm: {realm!r}")
    query: list[tuple[str, str]] = []
    if challenge.params.get("service"):
        query.append(("service", challenge.params["service"]))
    wanted = list(scopes) or ([challenge.params["scope"]] if challenge.params.get("scope") else [])
    query += [("scope", s) for s in wanted]
    if creds.username:
        query.append(("account", creds.username))
    sep = "&" if "?" in realm else "?"
    url = realm + (sep + urllib.parse.urlencode(query) if query else "")
    headers = {} if creds.anonymous or not creds.username else {"Authorization": basic_header(creds)}
    return TokenRequest(url, headers, tuple(scopes))  # cached under the scopes asked for


def parse_token_response(status: int, body: bytes) -> str:
    if status == 401 or status == 403:
        raise Unauthorized("authentication required: the token server refused the credentials")
    if status != 200:
        raise Unauthorized(f"token server answered HTTP {status}")
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise Unauthorized(f"token server sent invalid JSON: {exc}") from None
    token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise Unauthorized("token server sent no token")
    return token


class Authenticator:
    """Per-registry auth state: the credentials and the tokens obtained so far.

    The client asks :meth:`header` before each request; on a 401 it calls
    :meth:`on_unauthorized` with the ``WWW-Authenticate`` value and gets either a
    :class:`TokenRequest` (perform it, then :meth:`on_token`), ``None`` (retry:
    basic credentials are now attached) or an :class:`Unauthorized` error.
    """

    def __init__(self, creds: Credentials = ANONYMOUS) -> None:
        self.creds = creds
        self._basic = False
        self._tokens: dict[tuple[str, ...], str] = {}

    def header(self, scopes: tuple[str, ...]) -> str | None:
        if self.creds.registry_token:
            return "Bearer " + self.creds.registry_token
        token = self._tokens.get(tuple(sorted(scopes)))
        if token:
            return "Bearer " + token
        if self._basic:
            return basic_header(self.creds)
        return None

    def on_unauthorized(self, www_authenticate: str, scopes: tuple[str, ...], attempted: bool) -> TokenRequest | None:
        challenges = parse_challenges(www_authenticate)
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None:
            if attempted and tuple(sorted(scopes)) in self._tokens:
                raise Unauthorized("authentication required: the registry refused the token")
            return token_request(bearer, scopes, self.creds)
        if any(c.scheme == "basic" for c in challenges):
            if self.creds.anonymous or self._basic:
                raise Unauthorized("authentication required" if self.creds.anonymous
                                   else "unauthorized: incorrect username or password")
            self._basic = True
            return None
        raise Unauthorized(f"authentication required (unsupported challenge {www_authenticate!r})")

    def on_token(self, request: TokenRequest, status: int, body: bytes) -> None:
        self._tokens[tuple(sorted(request.scopes))] = parse_token_response(status, body)


# --- X-Registry-Auth ----------------------------------------------------------------------


def encode_registry_auth(creds: Credentials) -> str:
    doc = {"username": creds.username, "password": creds.password, "serveraddress": creds.server}
    if creds.identity_token:
        doc["identitytoken"] = creds.identity_token
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def decode_registry_auth(header: str) -> Credentials:
    """Docker's ``X-Registry-Auth`` (base64url JSON; ``e30=`` and empty mean anonymous)."""
    if not header:
        return ANONYMOUS
    text = header.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw) if raw.strip() else {}
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgument(f"invalid X-Registry-Auth header: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: not a JSON object")
    return credentials_from_json(doc)


def credentials_from_json(doc: dict) -> Credentials:
    """``{"username", "password", "serveraddress", ...}`` as sent to ``POST /auth`` too."""
    return Credentials(
        username=str(doc.get("username") or ""),
        password=str(doc.get("password") or ""),
        server=str(doc.get("serveraddress") or ""),
        identity_token=str(doc.get("identitytoken") or ""),
        registry_token=str(doc.get("registrytoken") or ""),
    )
