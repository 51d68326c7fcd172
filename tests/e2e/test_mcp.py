"""The app as an MCP server, through the real `mcp` client: ``python app.py --mcp-server``, tools listed with
names an agent understands, each tool called once with small settings and an image (base64, as Gradio's MCP layer
takes it) that comes back with an image (list_models: text), and a bad argument per tool that comes back as a tool
error naming the field."""
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
SKETCH = REPO_ROOT / "assets" / "examples" / "sketches" / "grumpy_rgba.png"  # strokes on a transparent background
TOOLS = {"sample", "invert", "scribble", "sdedit", "interpolate", "edit", "drag", "translate", "compare", "list_models"}


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
    assert TOOLS <= set(tools)
    assert not {"run_edit", "run_drag", "load", "models"} & set(tools)  # the page's endpoints they replace: unlisted
    assert set(tools["invert"].inputSchema["properties"]) == {"photo", "steps", "space", "find_face", "seed", "model"}
    assert tools["invert"].inputSchema.get("required") == ["photo"]
    assert {"image", "strength", "steps", "count", "seed"} <= set(tools["sdedit"].inputSchema["properties"])
    assert set(tools["interpolate"].inputSchema["properties"]) == {
        "photo_a", "photo_b", "seed_a", "seed_b", "frames", "space", "invert_steps", "model"}
    assert not tools["interpolate"].inputSchema.get("required")  # two seeds' samples by default
    for name, required in (("edit", "direction"), ("drag", "points"), ("translate", "photo"), ("compare", "sketch")):
        assert tools[name].inputSchema.get("required") == [required], name
    assert {"photo", "seed", "strength", "count", "layers", "find_face"} <= set(tools["edit"].inputSchema["properties"])
    assert "dark_fur" in tools["edit"].inputSchema["properties"]["direction"]["description"]  # what it may be
    assert {"class_name", "source_class", "depth", "guidance", "steps", "refine"} <= set(
        tools["translate"].inputSchema["properties"])
    assert {"gan_steps", "strength", "steps", "seed"} <= set(tools["compare"].inputSchema["properties"])
    # ranges stated from the options' limits
    assert "1-2000" in tools["drag"].inputSchema["properties"]["steps"]["description"]   # DragConfig.steps
    assert "0.05-1" in tools["translate"].inputSchema["properties"]["depth"]["description"]  # TranslateOptions
    assert "1-16" in tools["sdedit"].inputSchema["properties"]["count"]["description"]  # SDEditOptions.n
    for name in TOOLS:
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


def _text(result) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_interpolate_edit_drag_translate_compare_and_list_models(mcp_url):
    photo, sketch = _data_url(PHOTO), _data_url(SKETCH)

    async def calls(session):
        return [await session.call_tool(name, args) for name, args in (
            ("interpolate", {"photo_a": photo, "seed_b": 3, "frames": 3, "invert_steps": 5}),
            ("edit", {"direction": "dark_fur", "seed": 3, "count": 3}),
            ("drag", {"points": "20,28:20,24", "seed": 3, "steps": 3}),
            ("translate", {"photo": photo, "depth": 0.5, "steps": 4, "refine": 0}),
            ("compare", {"sketch": sketch, "gan_steps": 2, "strength": 0.5, "steps": 4}),
            ("list_models", {}))]

    interpolated, edited, dragged, translated, compared, listed = _session(mcp_url, calls)
    (strip,) = _images(interpolated)
    assert strip.size == (3 * 256, 256)                   # A (the inverted photo), one frame between, B
    (strip,) = _images(edited)
    assert strip.size == (3 * 256, 256)                   # −s, the start, +s
    left, middle, right = (strip.crop((i * 256, 0, (i + 1) * 256, 256)).convert("L") for i in range(3))
    assert sum(left.tobytes()) != sum(right.tobytes())     # the direction changed something
    for result in (dragged, translated, compared):
        (pair,) = _images(result)
        assert pair.size == (2 * 256, 256)                # before | after; GAN | diffusion
    assert not listed.isError
    text = _text(listed)
    for expected in ("StyleGAN2 · cats (default)", "dark_fur", "SeFa 0", "grumpy cat", "w+"):
        assert expected in text, (expected, text)


@pytest.mark.parametrize("tool, args, named", [
    ("interpolate", {"frames": 1}, "Frames"),
    ("edit", {"direction": "fluffiness"}, "dark_fur"),          # the unknown direction, with the known ones listed
    ("drag", {"points": "20,28", "steps": 1}, "handle:target"),
    ("translate", {"photo": "PHOTO", "depth": 2}, "Depth"),
    ("compare", {"sketch": "SKETCH", "strength": 2}, "Strength"),
    ("list_models", {"model": "no such GAN"}, "Unknown model"),
])
def test_a_bad_argument_to_each_new_tool_is_a_tool_error_naming_it(mcp_url, tool, args, named):
    args = {k: {"PHOTO": _data_url(PHOTO), "SKETCH": _data_url(SKETCH)}.get(v, v) if isinstance(v, str) else v
            for k, v in args.items()}
    result = _session(mcp_url, lambda s: s.call_tool(tool, args))
    assert result.isError and named in _text(result), _text(result)
