"""The app: builds over the engines, serves on loopback, and its named endpoint answers gradio_client."""
from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")
from gradio_client import Client  # noqa: E402

from demo import build_demo  # noqa: E402


def test_sample_endpoint_over_http(tiny_engine):
    demo = build_demo(tiny_engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        gallery = client.predict(4, 3, 0.7, api_name="/sample")
        assert len(gallery) == 4
        with pytest.raises(Exception, match="Seed must be"):  # our message reaches the client as gr.Error
            client.predict(1, -1, 0.7, api_name="/sample")
        assert len(client.predict(1, 0, 0.5, api_name="/sample")) == 1  # still serving after an error
    finally:
        demo.close()
