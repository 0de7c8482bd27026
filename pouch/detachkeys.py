"""Detach keys: the key sequence that leaves an attached session, the process running.

Docker's format (``--detach-keys``, ``detachKeys`` in the client config, the
``detachKeys`` query of attach, ``DetachKeys`` of an exec): comma-separated keys,
each a single character or ``ctrl-<c>`` with ``<c>`` one of ``a``-``z``, ``@``,
``[``, ``\\``, ``]``, ``^``, ``_``. The default is ``ctrl-p,ctrl-q``.

:class:`DetachMatcher` is Docker's escape proxy, sans-IO: input bytes in, the bytes
to forward out; bytes that may begin the sequence are held back until the next
byte says whether it goes on, and the whole sequence is swallowed.
"""

from __future__ import annotations

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_CHARS = "@abcdefghijklmnopqrstuvwxyz[\\]^_"


class InvalidDetachKeys(ValueError):
    pass


def parse_detach_keys(keys: str) -> bytes:
    """``"ctrl-p,ctrl-q"`` → ``b"\\x10\\x11"``; InvalidDetachKeys for anything else."""
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out.append(ord(key))
            continue
        lowered = key.lower()
        if len(lowered) == 6 and lowered.startswith("ctrl-") and lowered[5] in _CTRL_CHARS:
            out.append(_CTRL_CHARS.index(lowered[5]))
            continue
        raise InvalidDetachKeys(f"Invalid detach keys ({keys}) provided")
    if not out or any(b > 0x7F for b in out):
        raise InvalidDetachKeys(f"Invalid detach keys ({keys}) provided")
    return bytes(out)


def session_detach_keys(given: str, tty: bool) -> bytes:
    """The keys a daemon watches an attached session's input for: those the client gave,
    else the default with a TTY, else none (Pouch does not swallow ctrl-p,ctrl-q from a
    piped, non-TTY input unless the client asked for detach keys)."""
    if given:
        return parse_detach_keys(given)
    return parse_detach_keys(DEFAULT_DETACH_KEYS) if tty else b""


class DetachMatcher:
    """Finds the detach sequence in a byte stream fed in pieces."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0  # how many bytes of the sequence were seen (and held back)
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to forward; once the whole sequence is seen, ``detached`` is True
        and whatever follows it is dropped."""
        if self.detached or not self.keys:
            return b"" if self.detached else data
        out = bytearray()
        for byte in data:
            if byte == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self.detached = True
                    return bytes(out)
                continue
            out += self.keys[:self._held]  # not the sequence after all: what was held goes on
            self._held = 1 if byte == self.keys[0] else 0
            if not self._held:
                out.append(byte)
        return bytes(out)
