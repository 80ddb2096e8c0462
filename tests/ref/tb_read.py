#!/usr/bin/python3
"""Read a TensorBoard event file back, independently of the C writer (cli/tfevents.c).

usage: /usr/bin/python3 tb_read.py FILE

Checks every record's framing (a uint64 little-endian length, the masked CRC32C of
those 8 bytes, the data, the masked CRC32C of the data) and parses each record's data
as an Event with Debian's python3-protobuf. The message classes are built here from
descriptors (descriptor_pb2), numbered as tensorboard/compat/proto/event.proto and
summary.proto number them, so no protoc and no TensorFlow are needed. Unknown fields
are an error (the writer must write only what it means to).

Prints one JSON document:
  {"file_version": "...", "version_wall_time": s,
   "scalars": [[tag, step, value, wall_time], ...]}      (in file order)
Exits 1 with a line on stderr at the first problem: a short record, a wrong CRC, an
Event that does not parse, a first Event without file_version, a later one that is
not a summary of simple values.
"""
import json
import struct
import sys

from google.protobuf import descriptor_pb2, message_factory

F = descriptor_pb2.FieldDescriptorProto


def crc32c_table():
    # the reflected Castagnoli polynomial, one byte at a time
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def field(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name


def classes():
    fd = descriptor_pb2.FileDescriptorProto(name="tb_read/event.proto", package="tbread",
                                            syntax="proto3")
    summary = fd.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    field(value, "tag", 1, F.TYPE_STRING)
    field(value, "simple_value", 2, F.TYPE_FLOAT)
    value.oneof_decl.add(name="value")
    value.field[1].oneof_index = 0
    field(summary, "value", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".tbread.Summary.Value")
    event = fd.message_type.add(name="Event")
    field(event, "wall_time", 1, F.TYPE_DOUBLE)
    field(event, "step", 2, F.TYPE_INT64)
    field(event, "file_version", 3, F.TYPE_STRING)
    field(event, "summary", 5, F.TYPE_MESSAGE, type_name=".tbread.Summary")
    # file_version and summary are one oneof "what" in event.proto
    event.oneof_decl.add(name="what")
    for f in event.field:
        if f.name in ("file_version", "summary"):
            f.oneof_index = 0
    return message_factory.GetMessages([fd])["tbread.Event"]


def unknown(ev):
    """Whether the Event or a message in it carries fields the descriptors lack."""
    msgs = [ev] + ([ev.summary] + list(ev.summary.value) if ev.HasField("summary") else [])
    return any(len(m.UnknownFields()) for m in msgs)


def die(msg):
    print("tb_read: " + msg, file=sys.stderr)
    sys.exit(1)


def records(data):
    off, n = 0, 0
    while off < len(data):
        if len(data) - off < 12:
            die("record %d at byte %d: %d bytes left, a header takes 12" % (n, off, len(data) - off))
        head = data[off:off + 8]
        (length,) = struct.unpack("<Q", head)
        (hcrc,) = struct.unpack("<I", data[off + 8:off + 12])
        if hcrc != masked(head):
            die("record %d at byte %d: length CRC %08x, expected %08x" % (n, off, hcrc, masked(head)))
        if len(data) - off - 12 < length + 4:
            die("record %d at byte %d: %d data bytes announced, fewer left" % (n, off, length))
        body = data[off + 12:off + 12 + length]
        (dcrc,) = struct.unpack("<I", data[off + 12 + length:off + 16 + length])
        if dcrc != masked(body):
            die("record %d at byte %d: data CRC %08x, expected %08x" % (n, off, dcrc, masked(body)))
        yield n, body
        off += 16 + length
        n += 1


def main():
    if len(sys.argv) != 2:
        die("usage: tb_read.py FILE")
    Event = classes()
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    out = {"file_version": None, "version_wall_time": None, "scalars": []}
    for n, body in records(data):
        ev = Event()
        try:
            ev.ParseFromString(body)
        except Exception as e:  # the message names what did not parse
            die("record %d: not an Event: %s" % (n, e))
        if unknown(ev):
            die("record %d: fields the writer should not write (outside wall_time, step, "
                "file_version, summary.value.tag, summary.value.simple_value)" % n)
        what = ev.WhichOneof("what")
        if n == 0:
            if what != "file_version":
                die("record 0: the first Event has no file_version")
            out["file_version"] = ev.file_version
            out["version_wall_time"] = ev.wall_time
            continue
        if what != "summary":
            die("record %d: an Event that is not a summary (%s)" % (n, what))
        for v in ev.summary.value:
            if v.WhichOneof("value") != "simple_value":
                die("record %d: value %r has no simple_value" % (n, v.tag))
            out["scalars"].append([v.tag, ev.step, v.simple_value, ev.wall_time])
        if not ev.summary.value:
            die("record %d: a summary without values" % n)
    if out["file_version"] is None:
        die("no records")
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
