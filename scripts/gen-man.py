#!/usr/bin/env python3
"""Write the man pages, generated from the CLI's own flag definitions (pouch/cli/introspect.py)
and pouchd's argparse parser (with the daemon.json key of each flag):

    scripts/gen-man.py OUTDIR  ->  OUTDIR/man1/pouch.1, OUTDIR/man1/pouch-VERB.1 (one per verb),
                                   OUTDIR/man8/pouchd.8
"""

from __future__ import annotations

import sys

from cli_docs import daemon_options, write_files

from pouch import API_VERSION, __version__
from pouch.cli import introspect
from pouch.cli.flags import Flag

TITLE = f'"Pouch {__version__}" "Pouch Manual"'


def esc(text: str) -> str:
    """Text for troff: backslashes and dashes escaped, a leading dot or quote defused."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def _flag_item(names: tuple[str, ...], value: str, text: str) -> list[str]:
    shown = ", ".join(f"\\fB{esc(n)}\\fR" for n in names)
    if value:
        shown += f" \\fI{esc(value)}\\fR"
    return [".TP", shown, esc(text) if text else "."]


def _options(flags: tuple[Flag, ...] | list[Flag]) -> list[str]:
    out = []
    for f in flags:
        out += _flag_item(f.names, introspect.value_name(f) if introspect.takes_value(f) else "", f.help)
    return out


def page_name(cmd: introspect.Command) -> str:
    return "pouch-" + cmd.name.replace(" ", "-")


def verb_page(cmd: introspect.Command) -> str:
    aliases = [f"pouch {g} {sub}" for g in sorted(introspect.MANAGEMENT_HELP)
               for sub, key in sorted(introspect.subcommands(g).items()) if key == cmd.key and f"{g} {sub}" != cmd.name]
    lines = [f'.TH "{page_name(cmd).upper()}" 1 "" {TITLE}', ".SH NAME", f"{esc(page_name(cmd))} \\- {esc(cmd.summary)}",
             ".SH SYNOPSIS", f"\\fBpouch {esc(cmd.name)}\\fR {esc(cmd.synopsis)}", ".SH DESCRIPTION",
             esc(cmd.description)]
    if aliases:
        lines += [".PP", "Also run as " + ", ".join(f"\\fB{esc(a)}\\fR" for a in aliases) + "."]
    lines += [".SH OPTIONS", *_options(cmd.flags), *_flag_item(("--help",), "", "Print usage"),
              ".SH SEE ALSO", "\\fBpouch\\fR(1)"]
    return "\n".join(lines) + "\n"


def main_page(commands: list[introspect.Command]) -> str:
    lines = [f'.TH "POUCH" 1 "" {TITLE}', ".SH NAME", "pouch \\- the client of the Pouch container engine",
             ".SH SYNOPSIS", "\\fBpouch\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARG\\fR...]", ".SH DESCRIPTION",
             esc("pouch drives pouchd(8) through the Docker Engine API (up to version " + API_VERSION + ") on "
                 "unix:///var/run/pouchd.sock, or the daemon named by -H or POUCH_HOST. Its verbs, flags and "
                 "output are the docker CLI's."),
             ".SH OPTIONS", *_options(introspect.GLOBAL_FLAGS), ".SH COMMANDS"]
    by_key = {c.key: c for c in commands}
    for name, summary in introspect.top_level():
        if name in by_key:
            lines += [".TP", f"\\fB{esc(page_name(by_key[name]))}\\fR(1)", esc(summary)]
        else:
            subs = ", ".join(sorted(introspect.subcommands(name)))
            lines += [".TP", f"\\fBpouch {esc(name)}\\fR \\fISUBCOMMAND\\fR", esc(f"{summary}: {subs}")]
    lines += [".SH ENVIRONMENT", ".TP", "\\fBPOUCH_HOST\\fR", esc("The daemon to connect to (as -H)."),
              ".TP", "\\fBPOUCH_CONFIG\\fR", esc("The directory of config.json (default ~/.pouch)."),
              ".SH FILES", ".TP", "\\fI~/.pouch/config.json\\fR",
              esc('Registry credentials, in docker\'s format: "auths", or a credential helper named by "credsStore" '
                  '(every registry) or "credHelpers" (per registry host), run as docker-credential-NAME.'),
              ".SH SEE ALSO", "\\fBpouchd\\fR(8), " + ", ".join(f"\\fB{esc(page_name(c))}\\fR(1)" for c in commands)]
    return "\n".join(lines) + "\n"


DAEMON_SECTIONS = [
    ("HOSTS", "Each -H is served at once: unix:///PATH (mode 0660, group --group; when the default group pouch does "
              "not exist the socket stays root:root), tcp://HOST:PORT and fd:// (the sockets systemd passes, see "
              "pouchd.socket; fd://N for one of them). A tcp:// host off loopback is refused unless --tls or "
              "--tlsverify is given: whoever reaches the API is root on the host."),
    ("TLS", "--tlsverify serves tcp:// hosts over TLS 1.2 or later and accepts only clients whose certificate is signed "
            "by --tlscacert (docker --tlsverify --tlscacert ca.pem --tlscert cert.pem --tlskey key.pem -H "
            "tcp://HOST:2376). --tls alone encrypts without checking clients."),
    ("CONFIGURATION FILE", "/etc/pouch/daemon.json (--config-file) holds the flags' settings as a JSON object, under "
                           "the keys listed with each option above (dockerd's daemon.json spellings where dockerd has "
                           "the setting). A key pouchd does not know, or a setting given both as a flag and in the "
                           "file, is an error. A missing default file is fine."),
    ("SIGNALS", "SIGHUP reads the configuration file again and applies what dockerd reloads: debug, registry-mirrors, "
                "insecure-registries, registry-timeout, runtimes and default-runtime; other changed settings are "
                "named in the log and wait for a restart; a file that does not load keeps the running configuration. "
                "SIGTERM and SIGINT stop pouchd; containers keep running under conmon and are found again at the "
                "next start."),
    ("SYSTEMD", "pouchd.service (Type=notify: pouchd sends READY=1 once it serves) with pouchd.socket for socket "
                "activation (-H fd://)."),
]


def daemon_page() -> str:
    lines = [f'.TH "POUCHD" 8 "" {TITLE}', ".SH NAME", "pouchd \\- the Pouch container engine daemon", ".SH SYNOPSIS",
             "\\fBpouchd\\fR [\\fIOPTIONS\\fR]", ".SH DESCRIPTION",
             esc("pouchd serves the Docker Engine API (and with --cri the Kubernetes CRI) and runs containers with "
                 "runc or another OCI runtime under conmon."), ".SH OPTIONS"]
    for option in daemon_options():
        text = option.help + (f' (daemon.json: "{option.key}")' if option.key else "")
        lines += _flag_item(option.names, option.metavar, text)
    for title, text in DAEMON_SECTIONS:
        lines += [f".SH {title}", esc(text)]
    lines += [".SH FILES", ".TP", "\\fI/etc/pouch/daemon.json\\fR", "The configuration file.",
              ".SH SEE ALSO", "\\fBpouch\\fR(1), \\fBsystemd.socket\\fR(5), \\fBsd_notify\\fR(3)"]
    return "\n".join(lines) + "\n"


def main(outdir: str) -> None:
    commands = introspect.commands()
    pages = {"man1/pouch.1": main_page(commands), "man8/pouchd.8": daemon_page()}
    pages.update({f"man1/{page_name(c)}.1": verb_page(c) for c in commands})
    write_files(outdir, pages)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen-man.py OUTDIR")
    main(sys.argv[1])
