"""Rich containers: an init as pid 1, the app beside the services and agents a VM had.

Glossary:
- *mode*: what is pid 1 (``models.RichMode``): the host's dumb-init, the image's
  /sbin/init, or the image's systemd.
- *launcher*: in dumb-init mode, a small shell script run by the host's static
  busybox (so the image needs no shell) that starts the ops components, waits for
  pouchd to run the prestart hooks, runs the app, then the poststop hooks, and
  exits with the app's code.
- *inittab entries*: in sbin-init mode with busybox's init, the same jobs (ops
  components, the app, the poststop hooks) as entries of a generated /etc/inittab
  (``sbininit``).
- *ops components*: the operations team's agents, a host directory shown
  read-only at /.pouch/ops in every rich container.
- *prestart hooks* run inside the container (pouchd execs them) after init is up
  and before the app; *poststop hooks* run inside after the app exits.

Inside the container everything of Pouch's lives under ``/.pouch`` (``layout``).
"""
