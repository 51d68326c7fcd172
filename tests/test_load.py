"""bench/load.py in small: concurrent gradio_client jobs against `python app.py` either complete (equal to
their solo runs) or are refused cleanly by the queue limit; Stop frees the worker; the app keeps serving."""
from __future__ import annotations

import pytest

pytest.importorskip("gradio_client")

from bench import load  # noqa: E402


def test_concurrent_jobs_complete_or_are_refused_cleanly(tmp_path):
    record = load.main(["--jobs", "7", "--steps", "10", "--max-queue", "3", "--out", str(tmp_path)])
    assert record["failed"] == 0, record["failures"]
    assert record["completed"] + record["rejected_by_queue"] == 7
    assert record["rejected_by_queue"] >= 1                    # 7 at once cannot all fit in a queue of 3
    assert record["match_solo"] == record["completed"] and not record["mismatches"]
    assert record["cancel"]["quick_job_images"] == 2 and record["cancel"]["quick_job_seconds_after_cancel"] < 30
    assert record["answers_afterwards"] and record["rss_peak_mb"] >= record["rss_idle_mb"] > 0
    assert (tmp_path / "load.json").is_file()
