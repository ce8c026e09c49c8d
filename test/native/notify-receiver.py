# A stand-in for systemd's notification socket: binds a unix datagram socket
# (a path, or '@name' for an abstract one), prints "bound", then prints each
# datagram it receives as one JSON string per line until `count` arrived.
import json
import socket
import sys

address, count = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + address[1:] if address.startswith("@") else address)
print("bound", flush=True)
for _ in range(count):
    print(json.dumps(sock.recv(4096).decode()), flush=True)
