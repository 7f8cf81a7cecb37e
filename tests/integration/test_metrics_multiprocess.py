"""`meterbill serve --workers 2`: one scrape of /metrics returns the sum over both processes
(prometheus_client's multiprocess mode), counters never go backwards between scrapes, the
scrape-time gauges are one series each, and the metrics folder is removed at exit."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from tests import services as svc
from tests.processes import Meterbill

READYZ = 'meterbill_requests_total{operation="/readyz",status="200"}'


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def _process(r: httpx.Response) -> str:
    return r.headers["x-request-id"][:16]  # the per-process random prefix of request ids


def _hits(base: str, n: int) -> set[str]:
    """n requests to /readyz (which Meterbill.start does not probe), each on a new
    connection, so either process may take it."""
    seen = set()
    for _ in range(n):
        with httpx.Client(base_url=base, timeout=15) as c:
            r = c.get("/readyz")
            assert r.status_code == 200
            seen.add(_process(r))
    return seen


def test_serve_with_two_workers_sums_metrics_over_processes(tmp_path: Path) -> None:
    pg, redis = svc.require_pg(), svc.require_redis()
    redis_url = svc.claim_redis_db(redis)
    try:
        with svc.fresh_pg_database(pg) as db_url:
            env = {"MB_DATABASE_URL": db_url, "MB_REDIS_URL": redis_url}
            mb = Meterbill(tmp_path, env, args=("--workers", "2"))
            try:
                mb.start()
                base = f"http://127.0.0.1:{mb.port}"
                processes: set[str] = set()
                sent = 0
                # Until both processes answered: the sum must then cover both.
                while len(processes) < 2:
                    assert sent < 400, f"only one process answered {sent} requests"
                    processes |= _hits(base, 10)
                    sent += 10
                seen_by_scrapers: set[str] = set()
                last = 0.0
                scrapes = 0
                # At least 12 scrapes, and on until both processes answered one (the kernel
                # may hand a loaded machine's new connections to one process for a while).
                while scrapes < 12 or len(seen_by_scrapers) < 2:
                    assert scrapes < 200, "only one process answered 200 scrapes"
                    scrapes += 1
                    with httpx.Client(base_url=base, timeout=15) as c:
                        scrape = c.get("/metrics")
                    assert scrape.status_code == 200
                    seen_by_scrapers.add(_process(scrape))
                    total = _value(scrape.text, READYZ)
                    assert total == sent, (total, sent)  # every process's requests
                    assert total >= last  # never backwards, whichever process answers
                    last = total
                    # Scrape-time gauges: one series each, no per-process copies.
                    assert len(re.findall(r"^meterbill_queue_depth[ {]", scrape.text, re.M)) == 1
                    assert "pid=" not in scrape.text
                    _hits(base, 3)
                    sent += 3
                log = mb.log.read_text()
                folder = re.search(r"summed through (\S+)", log)
                assert folder, log
                assert Path(folder.group(1)).is_dir()
            finally:
                if mb.proc is not None:
                    mb.proc.send_signal(signal.SIGTERM)
                    mb.proc.wait(timeout=30)
                mb.close()
            assert not Path(folder.group(1)).exists()  # removed at exit
    finally:
        svc.release_redis_db(redis_url)


def test_metrics_of_one_process_need_no_folder(tmp_path: Path) -> None:
    mb = Meterbill(tmp_path, {"MB_DATABASE_URL": f"sqlite://{tmp_path}/mb.db"})
    try:
        mb.start()
        assert mb.http.get("/readyz").status_code == 200
        text = mb.http.get("/metrics").text
        assert _value(text, READYZ) == 1
        assert len(re.findall(r"^meterbill_invoices\{", text, re.M)) == 5  # by status, once
    finally:
        mb.close()
    assert "summed through" not in mb.log.read_text()
