"""Image references: parse, normalise and shorten them the way Docker does.

Implements the grammar of distribution/reference (``reference.go``,
``normalize.go``)::

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [domain "/"] path-component ["/" path-component]*
    domain    := host [":" port]

Glossary:

* *normalised name* -- ``docker.io/library/busybox``: the domain is always
  present, Docker Hub's official images live under ``library/``.
* *familiar name* -- ``busybox``: what users type and ``docker images`` shows.
* a reference given without tag and digest means ``:latest``
  (:func:`normalize` adds it; :func:`parse_reference` keeps "no tag" visible).

Pure functions only; every failure is :class:`~pouch.errors.InvalidArgument`
with Docker's wording ("invalid reference format...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pouch.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_ID_RE = re.compile(r"^[a-f0-9]{64}$")
_SHA256_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class Reference:
    """A normalised reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Normalised repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository name as users write it: ``busybox``, ``quay.io/a/b``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        rest = self.path
        if rest.startswith(OFFICIAL_REPO_PREFIX) and "/" not in rest[len(OFFICIAL_REPO_PREFIX) :]:
            return rest[len(OFFICIAL_REPO_PREFIX) :]
        return rest

    def with_default_tag(self) -> Reference:
        """Docker's ``TagNameOnly``: add ``:latest`` when neither tag nor digest is given."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG, "")

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """``busybox:latest``, ``localhost:5000/a/b:t``."""
        return self.familiar_name + self._suffix()


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: is the first component a registry host?"""
    first, sep, rest = name.partition("/")
    if not sep or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_reference(text: str) -> Reference:
    """Parse ``text`` into a normalised :class:`Reference` (no default tag added)."""
    if not text:
        raise InvalidArgument("invalid reference format")
    if _ANCHORED_ID_RE.match(text):
        raise InvalidArgument(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    name_part, tag, digest = _split_tag_digest(text)
    domain, remainder = _split_domain(name_part)
    if remainder.lower() != remainder:
        raise InvalidArgument(f"invalid reference format: repository name ({remainder}) must be lowercase")
    match = _REFERENCE_RE.match(f"{domain}/{remainder}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else ""))
    if not match:
        raise InvalidArgument("invalid reference format")
    if len(match.group(1)) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(
            f"invalid reference format: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest and digest.startswith("sha256:") and not _SHA256_DIGEST_RE.match(digest):
        raise InvalidArgument("invalid reference format")
    return Reference(domain, remainder, tag, digest)


def _split_tag_digest(text: str) -> tuple[str, str, str]:
    """Split ``name[:tag][@digest]``; a ``:`` before the last ``/`` is a port, not a tag."""
    name, _, digest = text.partition("@")
    if "@" in text and not digest:
        raise InvalidArgument("invalid reference format")
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not tag:
            raise InvalidArgument("invalid reference format")
    if not name:
        raise InvalidArgument("invalid reference format")
    # Validate the raw name against the grammar too (catches "a//b", "-a", "a:b:c" ...).
    if not re.match(rf"^{_NAME}$", name, re.IGNORECASE):
        raise InvalidArgument("invalid reference format")
    return name, tag, digest


def normalize(text: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(parse_reference(text).with_default_tag())


def familiar(text: str) -> str:
    """``docker.io/library/busybox:latest`` -> ``busybox:latest`` (the input may be short already)."""
    return parse_reference(text).familiar()


def is_reference(text: str) -> bool:
    try:
        parse_reference(text)
    except InvalidArgument:
        return False
    return True
