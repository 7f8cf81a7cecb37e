"""Generated request ids: 32 hex characters, unique within a process, and a process of its
own (a forked worker) draws its own random prefix."""

from __future__ import annotations

import os
import re

from meterbill.web.observability import _Ids


def test_ids_are_unique_hex_and_prefixed_per_process():
    ids = _Ids()
    got = [ids.next() for _ in range(1000)]
    assert len(set(got)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in got)
    assert len({i[:16] for i in got}) == 1
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a forked API worker would generate
        os.write(w, ids.next().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 64).decode()
    os.close(r)
    os.close(w)
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child[:16] != got[0][:16]
