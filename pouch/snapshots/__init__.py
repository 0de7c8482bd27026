"""Snapshots: committed image layers and containers' writable layers (see ``overlay``)."""

from pouch.snapshots.overlay import OverlaySnapshotter, chain_id, chain_ids

__all__ = ["OverlaySnapshotter", "chain_id", "chain_ids"]
