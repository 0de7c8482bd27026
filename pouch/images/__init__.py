"""Images: load/import/tag/remove, backed by the content store and the overlay snapshotter.

``service.ImageService`` is the entry point; ``record.ImageRecord`` what it hands out. The
package itself imports nothing, so the pure modules (``oci``, ``record``, ``bundle``...) can
be imported without the service and the storage layers under it.
"""
