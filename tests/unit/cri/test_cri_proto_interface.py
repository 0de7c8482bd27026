"""Pouch's CRI .proto against upstream's interface, mechanically.

tests/data/cri_v1_api_digest.txt is a digest of upstream's api.proto (where it came from is in its header):
packages, rpcs, messages with their field names, numbers and types, enums with their values. The same digest
is built here from the descriptors compiled from pouch/cri/proto/api.proto (pouch/cri/api_pb2.py) and the two
must be equal, so a wrong number, a missing field or a renamed rpc fails with the line that differs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

from pouch.cri import api_pb2

DIGEST = Path(__file__).parents[2] / "data" / "cri_v1_api_digest.txt"

SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
}


def upstream_lines() -> list[str]:
    lines = [line.strip() for line in DIGEST.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def type_name(full_name: str, package: str) -> str:
    return full_name.removeprefix(package + ".")


def field_type(field: FieldDescriptor, package: str) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return f"map<{field_type(key, package)},{field_type(value, package)}>"
    if field.message_type is not None:
        base = type_name(field.message_type.full_name, package)
    elif field.enum_type is not None:
        base = type_name(field.enum_type.full_name, package)
    else:
        base = SCALARS[field.type]
    repeated = field.is_repeated
    return "[]" + base if repeated else base


def enum_line(enum: EnumDescriptor, package: str) -> str:
    values = " ".join(f"{value.name}={value.number}" for value in enum.values)
    return f"enum {type_name(enum.full_name, package)} {values}"


def message_lines(message: Descriptor, package: str) -> list[str]:
    if message.GetOptions().map_entry:
        return []
    fields = " ".join(f"{f.name}={f.number}:{field_type(f, package)}" for f in message.fields)
    lines = [f"message {type_name(message.full_name, package)} {fields}".rstrip()]
    lines += [enum_line(enum, package) for enum in message.enum_types]
    for nested in message.nested_types:
        lines += message_lines(nested, package)
    return lines


def local_lines(file: FileDescriptor) -> list[str]:
    package = file.package
    lines = [f"package {package}"]
    for service in file.services_by_name.values():
        for method in service.methods:
            stream = "stream " if method.server_streaming else ""
            request = "stream " if method.client_streaming else ""
            lines.append(
                f"rpc {service.name} {method.name} {request}{type_name(method.input_type.full_name, package)} "
                f"{stream}{type_name(method.output_type.full_name, package)}"
            )
    lines += [enum_line(enum, package) for enum in file.enum_types_by_name.values()]
    for message in file.message_types_by_name.values():
        lines += message_lines(message, package)
    return lines


def test_the_digest_is_upstreams_interface_and_not_empty() -> None:
    lines = upstream_lines()
    assert "package runtime.v1" in lines
    assert sum(line.startswith("rpc ") for line in lines) > 40
    assert sum(line.startswith("message ") for line in lines) > 150


def test_local_proto_has_upstreams_services_rpcs_messages_fields_and_enums() -> None:
    upstream, local = set(upstream_lines()), set(local_lines(api_pb2.DESCRIPTOR))
    missing, extra = sorted(upstream - local), sorted(local - upstream)
    assert (missing, extra) == ([], []), "\n".join(["only upstream:", *missing, "only Pouch's:", *extra])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("message Namespace options=2:NamespaceOption", True),
        ("message Namespace options=3:NamespaceOption", False),
        ("enum SecurityProfile.ProfileType RuntimeDefault=0 Unconfined=1 Localhost=2", True),
        ("rpc RuntimeService GetContainerEvents GetEventsRequest stream ContainerEventResponse", True),
        ("rpc RuntimeService GetContainerEvents GetEventsRequest ContainerEventResponse", False),
    ],
)
def test_the_comparison_sees_numbers_nesting_and_streaming(line: str, expected: bool) -> None:
    assert (line in set(local_lines(api_pb2.DESCRIPTOR))) is expected
