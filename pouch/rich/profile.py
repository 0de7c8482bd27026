"""The container's environment for the sessions that do not inherit it from pid 1.

``pouch exec`` gets the container's environment from pouchd (the record, as ``update --env``
left it). What starts inside the container from a clean environment does not: a login
shell, an ssh session, a cron job. pouchd writes the environment into two files of the
container's own layer, at each start of a rich container and at each ``update --env``:

- /etc/profile.d/pouch-env.sh, for login shells (``pouch exec c sh -l``, ``ssh host``):
  /etc/profile sources /etc/profile.d/*.sh. Values are single-quoted so that ``=``,
  quotes, ``$`` and spaces survive.
- /etc/environment, for every PAM session, login or not: Debian's sshd, cron, su and login
  run ``pam_env``, which reads it (``readenv``) before the session's shell starts, so
  ``ssh host cmd``, which runs ``cmd`` through the user's shell without a profile, sees
  the values too. sshd's ``SetEnv``/``AcceptEnv`` would be the client's variables, not
  the container's; ``systemctl set-environment`` reaches only services started later, and
  sshd is started once. Pouch's variables are a marked block at the end of the file; the
  image's own lines stay. pam_env (Linux-PAM 1.5) takes a line as ``KEY=VALUE`` up to a
  ``#``, joins a line ending in a backslash with the next, expands nothing, and strips a
  leading quote (with the last character, when that is a quote too): a value starting with
  a quote is written between double quotes; one pam_env cannot carry (``#``, a newline, a
  trailing backslash) is left out there, with a comment saying so (the login profile still
  has it).
"""

from __future__ import annotations

from collections.abc import Sequence

PROFILE_PATH = "/etc/profile.d/pouch-env.sh"
ENVIRONMENT_PATH = "/etc/environment"
SKIPPED = ("HOSTNAME", "HOME", "TERM", "container_uuid")  # the session's own, or pid 1's
BLOCK_BEGIN = "# >>> pouch: the container's environment (written by pouchd at each start and update --env)"
BLOCK_END = "# <<< pouch"
_PAM_UNSAFE = ("#", "\n")


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _variables(env: Sequence[str]) -> list[tuple[str, str]]:
    """The (name, value) pairs worth giving a session: valid shell names, not the session's own."""
    pairs = []
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or key in SKIPPED or not key.replace("_", "a").isalnum() or key[0].isdigit():
            continue
        pairs.append((key, value))
    return pairs


def profile_env(env: Sequence[str]) -> str:
    lines = ["# Written by pouchd: the container's environment, for login shells and ssh sessions."]
    lines += [f"export {key}={shell_quote(value)}" for key, value in _variables(env)]
    return "\n".join(lines) + "\n"


def environment_block(env: Sequence[str]) -> list[str]:
    """Pouch's block of /etc/environment (pam_env's ``KEY=VALUE`` lines), marked."""
    lines = [BLOCK_BEGIN]
    for key, value in _variables(env):
        if any(c in value for c in _PAM_UNSAFE) or value.endswith("\\"):
            lines.append(f"# {key}: its value cannot be written for pam_env; see {PROFILE_PATH}")
        elif value.startswith(('"', "'")):
            lines.append(f'{key}="{value}"')
        else:
            lines.append(f"{key}={value}")
    return [*lines, BLOCK_END]


def environment_file(existing: str | None, env: Sequence[str]) -> str:
    """/etc/environment: the image's own lines (``existing`` without an earlier block of
    Pouch's), then Pouch's block."""
    kept: list[str] = []
    inside = False
    for line in (existing or "").splitlines():
        if line == BLOCK_BEGIN:
            inside = True
        elif inside and line == BLOCK_END:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept + environment_block(env)) + "\n"
