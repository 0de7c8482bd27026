"""Volumes of the local driver and the mounts of containers (``pouch volume``, ``-v``, ``--mount``).

``specs`` parses mount specifications (pure); ``copyup`` copies an image's content into an
empty volume without following symlinks; ``service.VolumeService`` keeps the volumes
(``<root>/volumes/<name>/_data``, rows in the ``volumes`` table), mounts those with
driver options while a container uses them, and resolves a container's mounts at create.
"""
