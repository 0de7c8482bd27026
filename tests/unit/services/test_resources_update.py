"""The engine's rule for ``update --restart`` on a ``--rm`` container (no root)."""

from __future__ import annotations

import pytest

from pouch.errors import InvalidArgument
from pouch.models import RestartPolicy
from pouch.services.resources import check_restart_update


def test_an_auto_remove_container_keeps_restart_policy_no():
    check_restart_update(RestartPolicy("no"), auto_remove=True)
    check_restart_update(RestartPolicy("always"), auto_remove=False)
    with pytest.raises(InvalidArgument, match="AutoRemove is enabled"):
        check_restart_update(RestartPolicy("on-failure", 3), auto_remove=True)
