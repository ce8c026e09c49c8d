# A stand-in for systemd's notification socket: binds a unix datagram socket
# (a path, or '@name' for an abstract one), prints "bound", then prints each
# datagram it receives as one JSON string per line until `count` arrived.
# With a third argument, a shell command run right after a datagram with
# READY=1 (the daemon is not waited for: this is what systemd would start
# next); its exit status and output follow as {"probe": status, "output": text}.
import json
import socket
import subprocess
import sys

address, count = sys.argv[1], int(sys.argv[2])
probe = sys.argv[3] if len(sys.argv) > 3 else None
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + address[1:] if address.startswith("@") else address)
print("bound", flush=True)
for _ in range(count):
    message = sock.recv(4096).decode()
    print(json.dumps(message), flush=True)
    if probe and "READY=1" in message.split("\n"):
        r = subprocess.run(probe, shell=True, capture_output=True, text=True)
        print(json.dumps({"probe": r.returncode, "output": r.stdout + r.stderr}), flush=True)
