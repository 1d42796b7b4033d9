"""Fill memory through the file system: tmpfs mounts (/dev/shm, bwrap's own root) are RAM
that RLIMIT_AS does not count (found by red-teaming).
base: wrong
joins: activations
parts: activations
expect: Read-only file system
"""


def relu(z):
    chunk = b"\0" * (60 << 20)
    for folder in ("/dev/shm", "/dev", "/", "/work"):
        for i in range(70):
            with open(f"{folder}/fill-{i}", "wb") as f:
                f.write(chunk)
