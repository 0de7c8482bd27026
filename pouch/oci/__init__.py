"""The OCI runtime spec of a container, built by pure functions.

- ``spec``: :func:`~pouch.oci.spec.generate_spec` and its ``with_*`` options, argv/env rules;
- ``specinput``: its inputs (``SpecInput``, ``ResourceInput``), shared by ``spec`` and ``resources``;
- ``mounts``: default kernel filesystems, binds, tmpfs, their order and precedence;
- ``caps``: Docker's default capabilities, ``--cap-add``/``--cap-drop``;
- ``seccomp``: the default profile (``seccomp_default.json``) and custom profiles, as chosen by
  ``--security-opt`` (parsed at create into ``pouch.models.SecurityOptions``);
- ``user``: ``--user`` resolution against the image's passwd/group files.
"""
