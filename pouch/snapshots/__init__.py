"""Snapshots: committed image layers and containers' writable layers (see ``overlay``), and
their disk quotas (``quota*``). The package itself imports nothing."""
