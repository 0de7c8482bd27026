"""The registry use cases pouchd offers: pull, push, login (no HTTP in here)."""

from __future__ import annotations

from pouch import reference as refs
from pouch.errors import InvalidArgument
from pouch.images import oci
from pouch.registry.auth import Authenticator, Credentials, Unauthorized
from pouch.registry.client import RegistryClient, RegistryError
from pouch.registry.endpoints import DOCKER_HUB_HOST, RegistryConfig, endpoints
from pouch.registry.manifest import parse_platform
from pouch.registry.progress import Emit
from pouch.registry.pull import Puller
from pouch.registry.push import Pusher


class RegistryService:
    def __init__(self, images, config: RegistryConfig, timeout: float = 30.0) -> None:
        self.images = images
        self.config = config
        self.timeout = timeout

    def pull(self, name: str, creds: Credentials, platform: str, emit: Emit) -> str:
        chosen: oci.Platform | None = parse_platform(platform) if platform else None
        image_id = Puller(self.images, self.config, self.timeout).pull(name, creds, chosen, emit)
        self._event("pull", name)
        return image_id

    def push(self, name: str, tag: str, creds: Credentials, emit: Emit) -> str:
        digest = Pusher(self.images, self.config, self.timeout).push(name, tag, creds, emit)
        self._event("push", name + (f":{tag}" if tag else ""))
        return digest

    def _event(self, action: str, name: str) -> None:
        """Docker's pull/push events name the image by its reference (``busybox:latest``)."""
        ref = refs.parse_reference(name)
        familiar = (ref if ref.digest else ref.with_default_tag()).familiar()
        self.images.events.emit("image", action, familiar, {"name": familiar})

    def login(self, creds: Credentials) -> None:
        """Check ``creds`` against the registry (``GET /v2/`` through the auth flow)."""
        if not creds.username:
            raise InvalidArgument("username is required")
        server = creds.server.split("://", 1)[-1].rstrip("/")
        if server.startswith("index.docker.io") or server in ("", "docker.io", DOCKER_HUB_HOST):
            server = "docker.io"
        server = server.split("/", 1)[0]
        endpoint = [e for e in endpoints(server, self.config) if not e.mirror][0]
        client = RegistryClient(endpoint.url, "", Authenticator(creds), (), self.timeout, self.config.certs_dir)
        try:
            client.ping()
        except Unauthorized as exc:
            raise Unauthorized(f"login to {server} failed: {exc.message}") from None
        except RegistryError as exc:
            raise RegistryError(f"login to {server} failed: {exc.message}") from None
