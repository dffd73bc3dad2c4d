#!/usr/bin/env python3
"""A minimal dialkv client speaking the client port's wire protocol (docs/protocol.md).

Needs the protobuf runtime (Debian: python3-protobuf) and dialkv_pb2, generated with
  protoc -I proto --python_out=OUT proto/dialkv.proto
and found through PYTHONPATH=OUT. Usage: dialkv_example.py HOST:PORT [--token T] [--key K]
The token may also come from DIALKV_TOKEN. Exits 1 on any status it does not expect.
"""
import argparse, os, socket, struct, sys

import dialkv_pb2 as pb


class Connection:
    """One TCP connection: frames are a 4-byte little-endian length, then one Envelope."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.next_id = 1  # Id 0 belongs to replies that answer no request.
        self.replies = {}  # Replies read but not yet claimed, by id: they may come out of order.

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                sys.exit("error: connection closed by the node")
            data += chunk
        return data

    def call(self, **body):
        """Sends one request (e.g. get_request=pb.GetRequest(...)); returns its reply's body."""
        request = pb.Envelope(id=self.next_id, **body)
        self.next_id += 1
        data = request.SerializeToString()
        self.sock.sendall(struct.pack("<I", len(data)) + data)
        while request.id not in self.replies:
            (length,) = struct.unpack("<I", self._read_exact(4))
            reply = pb.Envelope.FromString(self._read_exact(length))
            if reply.id == 0:  # An ErrorReply about the connection itself: it closes next.
                sys.exit(f"error: node refused the connection: {reply.error_reply.status}")
            self.replies[reply.id] = reply
        reply = self.replies.pop(request.id)
        return getattr(reply, reply.WhichOneof("body"))  # get_reply, ..., or error_reply.


def check(what, reply, *expected):
    """Prints the outcome; exits 1 when the status is not one of `expected`."""
    code = pb.StatusCode.Name(reply.status.code)
    print(f"{what}: {code} {reply.status.message}".rstrip())
    if reply.status.code not in expected or reply.DESCRIPTOR.name == "ErrorReply":
        sys.exit(f"error: unexpected {code} from {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="HOST:PORT of a node's client port")
    parser.add_argument("--token", default=os.environ.get("DIALKV_TOKEN", ""))
    parser.add_argument("--key", default="example/greeting")
    args = parser.parse_args()
    host, _, port = args.endpoint.rpartition(":")
    conn = Connection(host.strip("[]"), int(port))
    key, value = args.key.encode(), b"hello from python"
    CP, AP, OK, NOT_FOUND = pb.CONSISTENCY_CP, pb.CONSISTENCY_AP, pb.STATUS_OK, pb.STATUS_NOT_FOUND

    if args.token:  # First on the connection; a node without tokens answers required=false.
        auth = conn.call(auth_request=pb.AuthRequest(token=args.token))
        check("auth", auth, OK)
        print(f"  required={auth.required} subject={auth.subject!r} scopes={auth.scopes!r}")
    put = conn.call(put_request=pb.PutRequest(key=key, value=value, consistency=CP, timeout_ms=2000))
    check("put (cp)", put, OK)
    print(f"  written at hlc={put.timestamp.hlc} by node {put.timestamp.node_id}")
    got = conn.call(get_request=pb.GetRequest(key=key, consistency=CP, timeout_ms=2000))
    check("get (cp)", got, OK)
    print(f"  value={got.value!r}")
    if got.value != value:
        sys.exit("error: the CP get did not return the value just put")
    got = conn.call(get_request=pb.GetRequest(key=key, consistency=AP))  # timeout 0: node's default
    check("get (ap)", got, OK, NOT_FOUND)  # AP may be stale on a cluster: even NOT_FOUND is fair.
    print(f"  value={got.value!r}")
    check("delete (cp)", conn.call(delete_request=pb.DeleteRequest(key=key, consistency=CP)), OK)
    check("get after delete (default: cp)", conn.call(get_request=pb.GetRequest(key=key)), NOT_FOUND)


if __name__ == "__main__":
    main()
