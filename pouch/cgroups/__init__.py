"""Control groups: what the kernel enforces and reports for a container.

- ``limits``: Docker's validation of the resource options and ``pouch update``'s merge
  rules (pure);
- ``v2``: the OCI ``linux.resources`` section as cgroup v2 file values (pure; runc does the
  same conversion on a v2 host);
- ``paths``: where a container's cgroup lives on v1 (per controller) and v2 (unified);
- ``stats``: reading usage files into Docker's stats JSON pieces (parsers pure, one reader).
"""
