"""A stand-in for the Lambda Runtime API on loopback, so the real `bootstrap` binary can be run
locally exactly as Lambda runs it: it polls for an event, handles it, posts the response.

Used by the demo (one invocation, then the binary is stopped) and by the cold-start benchmark
(records when the first poll arrives).
"""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class RuntimeStub:
    """Serves `events` one per poll; later polls wait until the stub is closed."""

    def __init__(self, events, timeout_ms=900_000):
        self.events = list(events)
        self.timeout_ms = timeout_ms
        self.responses = []
        self.errors = []
        self.first_poll_ns = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404)
                with stub._lock:
                    if stub.first_poll_ns is None:
                        stub.first_poll_ns = time.monotonic_ns()
                    event = stub.events.pop(0) if stub.events else None
                if event is None:
                    stub.done.set()
                    # Hold the poll open, as Lambda does between invocations.
                    time.sleep(3600)
                    return self._reply(500)
                deadline = int(time.time() * 1000) + stub.timeout_ms
                self._reply(
                    200,
                    json.dumps(event).encode(),
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": str(uuid.uuid4()),
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-west-2:123456789012:function:bulk-invites",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode() if length else ""
                if self.path.endswith("/response"):
                    stub.responses.append(json.loads(body) if body else None)
                else:
                    stub.errors.append({"path": self.path, "body": body})
                self._reply(202, b"{}")
                if not stub.events:
                    stub.done.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lambda_environment(runtime_address):
    """The variables Lambda sets for a function, pointing the runtime at the stub."""
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_address,
        "AWS_LAMBDA_FUNCTION_NAME": "bulk-invites",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bulk-invites",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    }
