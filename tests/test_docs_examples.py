"""Every fenced code block in README.md and docs/*.md runs as written.

- ```python blocks run in this process: against a started app when they use ``gradio_client`` (the app of the
  quickstart, built from the default models and served on a free port; the block's ``http://127.0.0.1:7860/``
  is replaced by that port's address), else against the library.
- ```bash blocks must hold ``python -m engines …`` commands: each line goes through the CLI's own entry point
  (``engines.cli.main.main``, what ``python -m engines`` calls) and must exit 0.
- A block that cannot run here (it downloads gigabytes, trains for an hour, needs GPUs or data the repository
  does not hold) is marked right above it with ``<!-- no-test: the reason -->``; the reason shows as this test's
  skip message. Any other kind of block fails: mark it or make it runnable.

Every block runs in a fresh temp folder holding a link to ``assets/`` (the examples the docs use), so outputs
such as ``--out inv/`` land there. Keep documented commands small (few steps, few samples) so this stays fast.
"""
from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
APP_URL = "http://127.0.0.1:7860/"   # where the quickstart's `python app.py` listens; the docs' examples use it

FENCE = re.compile(r"^[ \t]*```([\w-]*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)   # indented ones too (lists)
NO_TEST = re.compile(r"<!--\s*no-test:\s*((?:(?!-->).)+?)\s*-->\s*\Z", re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int                 # of the opening fence
    lang: str
    code: str
    skip: Optional[str]       # the reason of a <!-- no-test: … --> marker right above the block

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            marker = NO_TEST.search(text[:m.start()])
            found.append(Block(page, text.count("\n", 0, m.start()) + 1, m.group(1).lower(), textwrap.dedent(m.group(2)),
                               marker.group(1) if marker else None))
    return found


BLOCKS = blocks()


def commands(code: str) -> list[list[str]]:
    """The shell lines of a block as argument lists: continuations joined, comments and blank lines dropped."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(words)
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "assets").symlink_to(ROOT / "assets", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def app_url():
    """The app as `python app.py` builds it (default models, CPU), on a free loopback port."""
    pytest.importorskip("gradio")
    from demo import build_demo
    from demo.registry import Registry
    from engines.diffusion.engine import DiffusionEngine
    from engines.stylegan.engine import GanEngine
    demo = build_demo(Registry(GanEngine("default", device="cpu"), DiffusionEngine("default", device="cpu"),
                               device="cpu"))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield url.rstrip("/") + "/"
    finally:
        demo.close()


def test_the_docs_have_blocks_and_every_block_runs_or_says_why_not():
    assert any(b.page.name == "README.md" for b in BLOCKS) and len({b.page for b in BLOCKS}) > 1
    for b in BLOCKS:
        if b.skip is None:
            assert b.lang in ("python", "bash"), (
                f"{b.id}: a ```{b.lang} block; make it ```python or ```bash, or mark it <!-- no-test: why -->")


def test_quickstart_is_the_app_and_the_test_command_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("\n## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in BLOCKS if b.page.name == "README.md" and b.code in quickstart)
    lines = [line.split("#", 1)[0].strip() for line in block.code.strip().splitlines()]
    assert len(lines) == 2, "the quickstart is two commands: the app, the tests"
    assert lines[0].endswith("python app.py")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert lines[1] in [line.strip() for line in ci if not line.lstrip().startswith("#")], (
        "CI (.ci/run) runs exactly the README's test command; keep the two in step")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "bash"], ids=lambda b: b.id)
def test_bash_block(block, workdir, capsys):
    if block.skip:
        pytest.skip(f"no-test: {block.skip}")
    from engines.cli.main import main
    for words in commands(block.code):
        assert words[:3] == ["python", "-m", "engines"], (
            f"{block.id}: only `python -m engines …` lines run here ({' '.join(words)!r}); "
            "mark the block <!-- no-test: why --> if it cannot run in CI")
        try:
            code = main(words[3:])
        except SystemExit as exc:        # --help and argparse end this way
            code = exc.code or 0
        captured = capsys.readouterr()
        assert code == 0, f"{block.id}: `{shlex.join(words)}` exited {code}:\n{captured.err[-2000:]}"
        out = words[words.index("--out") + 1] if "--out" in words else None
        assert out is None or (workdir / out).exists(), f"{block.id}: `{shlex.join(words)}` wrote no {out}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "python"], ids=lambda b: b.id)
def test_python_block(block, workdir, request):
    if block.skip:
        pytest.skip(f"no-test: {block.skip}")
    code = block.code
    if "gradio_client" in code:
        assert APP_URL in code, f"{block.id}: a gradio_client example should connect to {APP_URL}"
        code = code.replace(APP_URL, request.getfixturevalue("app_url"))
    exec(compile(code, block.id, "exec"), {"__name__": "__docs__"})
