"""``pouch build``: Dockerfile parsing (:mod:`.dockerfile`), variable substitution and
instruction evaluation (:mod:`.plan`), ``.dockerignore`` (:mod:`.ignore`) and the
executor (:mod:`.builder`) that runs RUN steps as containers and commits layers."""
