"""Pouch: a Docker-compatible container engine built around rich containers."""

__version__ = "0.1.0"
API_VERSION = "1.45"  # the newest Engine API pouchd serves (docker CLI 28 negotiates down to it)
MIN_API_VERSION = "1.24"
CLIENT_API_VERSION = "1.41"  # what the pouch CLI speaks: every shape it reads is there, and 1.24-1.45 daemons answer it
