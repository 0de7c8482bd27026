"""Docker's ``label=`` filter test, for every list that filters on labels (containers,
images, networks, volumes, events, prune)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def label_matches(expr: str, labels: Mapping[str, str]) -> bool:
    """``KEY`` (present) or ``KEY=VALUE`` (present with that value)."""
    key, eq, want = expr.partition("=")
    return key in labels and (not eq or labels[key] == want)


def labels_match(exprs: Iterable[str], labels: Mapping[str, str]) -> bool:
    """Every expression matches (Docker ANDs repeated ``label=`` filters)."""
    return all(label_matches(e, labels) for e in exprs)
