"""Images: load/import/tag/remove, backed by the content store and the overlay snapshotter.

``ImageService`` is the entry point; ``ImageRecord`` what it hands out.
"""

from pouch.images.record import ImageRecord
from pouch.images.service import ImageService

__all__ = ["ImageRecord", "ImageService"]
