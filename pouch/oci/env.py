"""The one rule by which a container's environment is put together.

Used for the process (``pouch.oci.spec.resolve_env``: the daemon's defaults, then the
image's ``Env``, then the container's ``-e``), for what inspect shows as ``Config.Env``
and ``commit`` records (the image's, then the container's: :func:`container_env`), for
``exec -e`` and ``pouch update --env``, and for ``--change ENV``. So inspect shows the
variables the process gets.

The rule is dockerd's ``ReplaceOrAppendEnvValues`` (moby ``container/env.go``), which
decides the process's environment there:

- ``KEY=V`` replaces the earlier ``KEY`` in place, or is appended;
- a bare ``KEY`` (no ``=``; the docker CLI sends ``-e KEY`` bare when KEY is not set in
  its own environment) unsets an earlier ``KEY`` and sets nothing; a later ``KEY=V``
  puts it back in its old place;
- of duplicates, the last one wins.

dockerd's inspect differs: its ``Config.Env`` is the user's list as given (duplicates and
bare names included) followed by the image's variables the user did not name, so it can
show what the process does not get. Pouch shows the merged result instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pouch.errors import InvalidArgument


def env_key(entry: str) -> str:
    """``KEY=V`` or ``KEY`` -> ``KEY``."""
    return entry.partition("=")[0]


def merge_env(base: Sequence[str], overrides: Iterable[str]) -> list[str]:
    """``base`` with ``overrides`` applied by the rule above; an override without a name
    (``=V``) is an InvalidArgument."""
    out: list[str | None] = list(base)
    index = {env_key(e): i for i, e in enumerate(base)}
    for entry in overrides:
        key, sep, _ = entry.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable: {entry}")
        at = index.get(key)
        if not sep:
            if at is not None:
                out[at] = None  # unset; a later KEY=V comes back here
        elif at is None:
            index[key] = len(out)
            out.append(entry)
        else:
            out[at] = entry
    return [e for e in out if e is not None]


def container_env(image_env: Sequence[str], container_env: Iterable[str]) -> list[str]:
    """The container's variables (inspect's ``Config.Env``, what ``commit`` records): the
    image's, then the container's ``-e``; the process gets these over the daemon's defaults."""
    return merge_env(image_env, container_env)
