"""The runtime's view of ``pouch.process`` (kept so runtime modules import one name)."""

from pouch.process import Completed, read_cmdline, read_int_file, run, scrubbed_env, wait_pid_exit

__all__ = ["Completed", "read_cmdline", "read_int_file", "run", "scrubbed_env", "wait_pid_exit"]
