"""User namespaces for containers (``--userns=auto``, ``pouchd --userns-remap default``).

- :mod:`pouch.userns.ranges`: pure; the id ranges, their allocation and the OCI mappings.
- :mod:`pouch.userns.idmap`: the syscalls; a user namespace fd for a range and idmapped
  clones of a directory (``open_tree``, ``mount_setattr(MOUNT_ATTR_IDMAP)``, ``move_mount``).
- :mod:`pouch.userns.rootfs`: a container's overlay rootfs on idmapped lower layers.
- :mod:`pouch.userns.allocator`: the per-container records, one file in each container's directory.
"""
