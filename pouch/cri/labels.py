"""How a pod or a pod's container is written into a Pouch container's labels, and read back (pure).

A CRI object is a Pouch container, and everything the CRI must answer about it later (after a
``kill -9`` of pouchd too) is in that container's record: nothing else is kept. The labels are
dockershim's where it had one, so that ``pouch ps --filter label=...`` reads as it did with
Docker under a kubelet:

- ``io.kubernetes.docker.type``: ``podsandbox`` (the pod's infra container, whose id is the
  pod sandbox id) or ``container`` (a container of the pod);
- ``io.kubernetes.sandbox.id``: the pod a container belongs to;
- ``io.kubernetes.container.logpath``: the container's CRI log file (absolute);
- ``annotation.<key>``: each CRI annotation (dockershim's prefix);
- ``io.pouch.cri.metadata``: the CRI metadata (name, uid, namespace, attempt) as JSON;
- ``io.pouch.cri.pod``: the pod facts its containers are made from (``PodFacts``) as JSON;
- ``io.pouch.owner``: ``cri``: the Docker API refuses to remove it (``services/lifecycle.py``).

The CRI's own labels are stored as they are; reading back, the keys above are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from pouch.services.lifecycle import OWNER_LABEL

TYPE_LABEL = "io.kubernetes.docker.type"
SANDBOX_TYPE = "podsandbox"
CONTAINER_TYPE = "container"
SANDBOX_ID_LABEL = "io.kubernetes.sandbox.id"
LOG_PATH_LABEL = "io.kubernetes.container.logpath"
ANNOTATION_PREFIX = "annotation."
METADATA_LABEL = "io.pouch.cri.metadata"
POD_LABEL = "io.pouch.cri.pod"
OWNER = "cri"

_INTERNAL = frozenset({TYPE_LABEL, SANDBOX_ID_LABEL, LOG_PATH_LABEL, METADATA_LABEL, POD_LABEL, OWNER_LABEL})


@dataclass(frozen=True)
class Metadata:
    """A pod's (name, uid, namespace, attempt) or a container's (name, attempt) CRI metadata."""

    name: str
    attempt: int = 0
    uid: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class PodFacts:
    """What RunPodSandbox was asked that the pod's containers are made from, and its status shows."""

    hostname: str = ""
    log_directory: str = ""
    dns_servers: tuple[str, ...] = ()
    dns_searches: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    shared_pid: bool = False  # namespace_options.pid == POD: the containers join the infra's
    cgroup_parent: str = ""
    runtime_handler: str = ""

    @classmethod
    def from_json(cls, text: str) -> PodFacts:
        data = json.loads(text or "{}")
        for key in ("dns_servers", "dns_searches", "dns_options"):
            data[key] = tuple(data.get(key) or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class CriObject:
    """A Pouch container's labels read back as the CRI object they describe."""

    kind: str  # SANDBOX_TYPE | CONTAINER_TYPE
    metadata: Metadata
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    sandbox_id: str = ""  # a container's pod
    log_path: str = ""
    pod: PodFacts = field(default_factory=PodFacts)


def pod_labels(metadata: Metadata, labels: Mapping[str, str], annotations: Mapping[str, str],
               facts: PodFacts) -> dict[str, str]:
    return {**_common(metadata, labels, annotations), TYPE_LABEL: SANDBOX_TYPE, POD_LABEL: facts.to_json()}


def container_labels(metadata: Metadata, labels: Mapping[str, str], annotations: Mapping[str, str],
                     sandbox_id: str, log_path: str) -> dict[str, str]:
    out = {**_common(metadata, labels, annotations), TYPE_LABEL: CONTAINER_TYPE, SANDBOX_ID_LABEL: sandbox_id}
    if log_path:
        out[LOG_PATH_LABEL] = log_path
    return out


def _common(metadata: Metadata, labels: Mapping[str, str], annotations: Mapping[str, str]) -> dict[str, str]:
    out = {k: v for k, v in labels.items() if k not in _INTERNAL}
    out.update({ANNOTATION_PREFIX + k: v for k, v in annotations.items()})
    out[METADATA_LABEL] = json.dumps(asdict(metadata), sort_keys=True)
    out[OWNER_LABEL] = OWNER
    return out


def read(labels: Mapping[str, str]) -> CriObject | None:
    """The CRI object a container's labels describe; None for a container the CRI did not make."""
    kind = labels.get(TYPE_LABEL, "")
    if kind not in (SANDBOX_TYPE, CONTAINER_TYPE) or METADATA_LABEL not in labels:
        return None
    try:
        metadata = Metadata(**json.loads(labels[METADATA_LABEL]))
        pod = PodFacts.from_json(labels.get(POD_LABEL, ""))
    except (ValueError, TypeError):
        return None
    user = {k: v for k, v in labels.items() if k not in _INTERNAL and not k.startswith(ANNOTATION_PREFIX)}
    annotations = {k.removeprefix(ANNOTATION_PREFIX): v for k, v in labels.items() if k.startswith(ANNOTATION_PREFIX)}
    return CriObject(kind=kind, metadata=metadata, labels=user, annotations=annotations,
                     sandbox_id=labels.get(SANDBOX_ID_LABEL, ""), log_path=labels.get(LOG_PATH_LABEL, ""), pod=pod)


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A CRI ``label_selector``: every key with its value."""
    return all(labels.get(k) == v for k, v in selector.items())


def pod_container_name(metadata: Metadata) -> str:
    """The infra container's Pouch name (dockershim's): ``k8s_POD_<name>_<namespace>_<uid>_<attempt>``."""
    return f"k8s_POD_{metadata.name}_{metadata.namespace}_{metadata.uid}_{metadata.attempt}"


def app_container_name(metadata: Metadata, pod: Metadata) -> str:
    """A container's Pouch name (dockershim's): ``k8s_<name>_<pod>_<namespace>_<uid>_<attempt>``."""
    return f"k8s_{metadata.name}_{pod.name}_{pod.namespace}_{pod.uid}_{metadata.attempt}"
