"""Routes of ``pouch cp`` / ``docker cp`` (Docker Engine API v1.41): thin handlers over
:mod:`pouch.services.archive`.

``GET /containers/{id}/archive?path=`` (a tar, the stat in ``X-Docker-Container-Path-Stat``),
``HEAD /containers/{id}/archive?path=`` (the stat header only),
``PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`` (extract a tar).
"""

from __future__ import annotations

import base64
import json

from pouch.api.archive_upload import RelativeNames
from pouch.api.server import Request, Response, Router, empty_response, stream_response
from pouch.services.archive import open_archive, put_archive, stat_path
from pouch.services.archive_root import PathStat

STAT_HEADER = "X-Docker-Container-Path-Stat"


def encode_stat(stat: PathStat) -> str:
    """Docker's ``ContainerPathStat`` as the header carries it: base64 of its JSON."""
    doc = {"name": stat.name, "size": stat.size, "mode": stat.mode, "mtime": stat.mtime, "linkTarget": stat.linkTarget}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def add_archive_routes(router: Router, engine) -> None:
    routes = ArchiveRoutes(engine)
    router.add("GET", "/containers/{id}/archive", routes.get)
    router.add("HEAD", "/containers/{id}/archive", routes.head)
    router.add("PUT", "/containers/{id}/archive", routes.put)


class ArchiveRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine

    def get(self, req: Request) -> Response:
        stat, chunks = open_archive(self.engine, req.params["id"], req.query_str("path"))
        resp = stream_response(chunks, content_type="application/x-tar")
        resp.headers.append((STAT_HEADER, encode_stat(stat)))
        return resp

    def head(self, req: Request) -> Response:
        stat = stat_path(self.engine, req.params["id"], req.query_str("path"))
        resp = empty_response(200)
        resp.headers += [(STAT_HEADER, encode_stat(stat)), ("Content-Type", "application/json")]
        return resp

    def put(self, req: Request) -> Response:
        put_archive(self.engine, req.params["id"], req.query_str("path"), RelativeNames(req.stream()),
                    no_overwrite_dir_non_dir=req.query_bool("noOverwriteDirNonDir"),
                    copy_uid_gid=req.query_bool("copyUIDGID"))
        return empty_response(200)
