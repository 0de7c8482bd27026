"""``docker manifest``'s and compose's question to the engine: what does the registry serve under
this name? (``GET /distribution/{name}/json``, moby ``distribution/distribution_routes.go``).

The answer is the descriptor of what the tag (or digest) resolves to -- a manifest or an index,
as the registry serves it -- and the platforms it offers: an index's entries (attestations,
``unknown/unknown``, left out), a single manifest's from its config. Nothing is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pouch import reference as refs
from pouch.errors import InvalidArgument, NotFound, PouchError
from pouch.images import oci
from pouch.registry.auth import Authenticator, Credentials, Unauthorized, repository_scope
from pouch.registry.client import RegistryClient, RegistryError
from pouch.registry.endpoints import RegistryConfig, endpoints
from pouch.registry.manifest import ImageIndex, ImageManifest, parse_manifest
from pouch.types import Descriptor

MAX_CONFIG_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class DistributionInspect:
    descriptor: Descriptor
    platforms: tuple[oci.Platform, ...]


def index_platforms(index: ImageIndex) -> tuple[oci.Platform, ...]:
    """The platforms an index offers, in its order, attestation manifests left out."""
    out = []
    for m in index.manifests:
        p = m.get("platform") or {}
        if p.get("os") and p.get("os") != "unknown":
            out.append(oci.Platform(p["os"], p.get("architecture", ""), p.get("variant", "")))
    return tuple(out)


def config_platform(raw_config: bytes) -> tuple[oci.Platform, ...]:
    """A single manifest's platform, from its image config (``os``, ``architecture``, ``variant``)."""
    try:
        doc = json.loads(raw_config)
    except ValueError:
        raise InvalidArgument("invalid image config in the registry") from None
    if not isinstance(doc, dict) or not doc.get("os"):
        return ()
    return (oci.Platform(str(doc["os"]), str(doc.get("architecture", "")), str(doc.get("variant", ""))),)


def _inspect_with(client: RegistryClient, ref: refs.Reference) -> DistributionInspect:
    data, content_type = client.get_manifest(ref.digest or ref.tag)
    doc = parse_manifest(data, content_type, ref.digest or None)
    descriptor = Descriptor(doc.media_type, doc.digest, len(data))
    if isinstance(doc, ImageIndex):
        return DistributionInspect(descriptor, index_platforms(doc))
    assert isinstance(doc, ImageManifest)
    reply = client.open_blob(doc.config.digest)
    try:
        raw = reply.read(MAX_CONFIG_SIZE)
    finally:
        reply.close()
    return DistributionInspect(descriptor, config_platform(raw))


def inspect_distribution(config: RegistryConfig, name: str, creds: Credentials, timeout: float) -> DistributionInspect:
    """Ask the registry (mirrors first for docker.io, as a pull does) what ``name`` resolves to."""
    ref = refs.parse_reference(name)
    ref = ref if ref.digest else ref.with_default_tag()
    last: PouchError | None = None
    for endpoint in endpoints(ref.domain, config):
        client = RegistryClient(endpoint.url, ref.path, Authenticator(creds),
                                (repository_scope(ref.path, ("pull",)),), timeout, config.certs_dir)
        try:
            return _inspect_with(client, ref)
        except (RegistryError, Unauthorized, NotFound) as exc:
            last = exc
    if isinstance(last, NotFound):
        raise NotFound(f"manifest for {ref.familiar()} not found: manifest unknown")
    if isinstance(last, Unauthorized):
        raise Unauthorized(f"pull access denied for {ref.familiar_name}, repository does not exist or may "
                           "require 'docker login'")
    raise last if last is not None else NotFound(f"no registry endpoint for {ref.familiar()}")
