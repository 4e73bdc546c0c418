"""moto server, with its request recorder made safe for concurrent requests.

moto's recorder appends each request to a file in two writes without a lock, so concurrent
requests (the function runs its batch calls in parallel) can interleave lines. The benchmark
counts AWS round trips from that recording, so each record is written under one lock here.
Otherwise this is `moto_server` unchanged; the arguments are the same.
"""

import threading

from moto.moto_api._internal.recorder.models import Recorder
from moto.server import main

_lock = threading.Lock()
_record_request = Recorder._record_request


def _locked_record_request(self, *args, **kwargs):
    with _lock:
        return _record_request(self, *args, **kwargs)


Recorder._record_request = _locked_record_request

if __name__ == "__main__":
    main()
