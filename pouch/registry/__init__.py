"""Registries (OCI distribution-spec v2): pull, push, login.

Sans-IO protocol pieces (``auth``, ``manifest``, ``progress``, ``endpoints``) and
the IO edges (``client`` speaks HTTP, ``pull``/``push`` orchestrate the image
store) -- see docs/ARCHITECTURE.md.
"""
