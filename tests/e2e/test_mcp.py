"""The app as an MCP server, through the real `mcp` client: ``python app.py --mcp-server``, tools listed with
names an agent understands, and sample / invert / sdedit called with an image (base64, as Gradio's MCP layer
takes it) that come back with images."""
from __future__ import annotations

import asyncio
import concurrent.futures
import base64
import io
import os
import subprocess
import sys
import time

import pytest
from PIL import Image

from .conftest import ARTIFACTS, REPO_ROOT, _http_ok, _stop, _tail, free_port

pytest.importorskip("mcp", reason='needs gradio[mcp] (requirements.txt)')
from mcp import ClientSession  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402

PHOTO = REPO_ROOT / "assets" / "examples" / "photos" / "stylegan2_seed1.png"


def _data_url(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def mcp_url():
    log_path = ARTIFACTS / "app-mcp-server.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--host", "127.0.0.1", "--mcp-server"],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=(os.name == "posix"))
    try:
        deadline = time.monotonic() + float(os.environ.get("LATENT_STUDIO_APP_TIMEOUT", "180"))
        while not _http_ok(f"http://127.0.0.1:{port}/"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"app.py --mcp-server did not start:\n{_tail(log_path)}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/gradio_api/mcp/sse"
    finally:
        _stop(proc)


def _session(url, work):
    async def run():
        async with sse_client(url, timeout=30, sse_read_timeout=600) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)
    # in its own thread: earlier browser tests (Playwright's sync API) leave an event loop running in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _images(result) -> list[Image.Image]:
    assert not result.isError, [getattr(c, "text", "") for c in result.content]
    return [Image.open(io.BytesIO(base64.b64decode(c.data))) for c in result.content if c.type == "image"]


def test_tools_are_listed_with_names_an_agent_understands(mcp_url):
    tools = {t.name: t for t in _session(mcp_url, lambda s: s.list_tools()).tools}
    assert {"sample", "invert", "scribble", "sdedit"} <= set(tools)
    assert set(tools["invert"].inputSchema["properties"]) == {"photo", "steps", "space", "find_face", "seed", "model"}
    assert tools["invert"].inputSchema.get("required") == ["photo"]
    assert {"image", "strength", "steps", "count", "seed"} <= set(tools["sdedit"].inputSchema["properties"])
    for name in ("sample", "invert", "scribble", "sdedit"):
        props = tools[name].inputSchema["properties"]
        assert not [p for p in props if p.endswith("_v") or p.endswith("_value")], (name, list(props))
        assert all(props[p].get("description") for p in props), name
        assert len(tools[name].description) > 40


def test_sample_invert_and_sdedit_return_images(mcp_url):
    photo = _data_url(PHOTO)

    async def calls(session):
        return (await session.call_tool("sample", {"count": 2, "seed": 1}),
                await session.call_tool("invert", {"photo": photo, "steps": 5}),
                await session.call_tool("sdedit", {"image": photo, "strength": 0.3, "steps": 10}))

    sampled, inverted, edited = _session(mcp_url, calls)
    (grid,) = _images(sampled)
    assert grid.size == (2 * 256, 256)                       # two samples side by side, display size
    (recon,) = _images(inverted)
    photo = Image.open(PHOTO).convert("RGB").resize((64, 64))
    error = sum(abs(a - b) for a, b in zip(recon.convert("RGB").resize((64, 64)).tobytes(), photo.tobytes()))
    assert recon.size == (256, 256) and error / (64 * 64 * 3) < 40  # a reconstruction of the photo, not noise
    (result,) = _images(edited)
    assert result.size == (256, 256)


def test_a_bad_argument_comes_back_as_a_tool_error(mcp_url):
    result = _session(mcp_url, lambda s: s.call_tool("invert", {"photo": _data_url(PHOTO), "steps": 0}))
    assert result.isError and "Steps" in " ".join(getattr(c, "text", "") for c in result.content)
