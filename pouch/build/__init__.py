"""``pouch build``: Dockerfile parsing (:mod:`.dockerfile`), variable substitution and
instruction evaluation (:mod:`.plan`), ``.dockerignore`` (:mod:`.ignore`), the
executor (:mod:`.builder`) that runs RUN steps as containers and commits layers, its
typed progress (:mod:`.progress`) and the engine's build service (:mod:`.service`)."""
