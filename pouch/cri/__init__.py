"""The Kubernetes CRI v1 front end: ``runtime.v1.RuntimeService`` and ``ImageService`` over gRPC.

A front end beside ``pouch/api/``: it receives the same :class:`~pouch.engine.Engine`,
turns protobuf messages into the engine's typed values and back, and maps the engine's
error kinds to gRPC codes (``errors.py``). Protobuf messages exist only in this package;
the stubs (``api_pb2*.py``) are generated from ``proto/api.proto`` at install time.
"""
