"""A real TCP peer that answers at once with a head, then trickles the rest one byte at a time.

It paces its bytes on an Event it never sets (its behaviour, not the test's synchronisation):
a client must give up at its deadline, long before the peer would finish.
"""

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"


@contextmanager
def peer(send: bytes, every_s: float, *, head: bytes = b"") -> Iterator[str]:
    """A server that answers each request with `head` at once, then `send` one byte at a time."""
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            try:
                self.request.sendall(head)
                for i in range(len(send)):
                    if stop.wait(every_s):
                        return
                    self.request.sendall(send[i : i + 1])
            except OSError:
                return  # the client hung up: what it should do

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            stop.set()
            server.shutdown()
            thread.join(5)
