"""`demo.gpu` with the real `spaces` package (what a Hugging Face Space has): off a ZeroGPU Space, spaces.GPU hands
the function back unchanged, so the tabs and tools run as they do without the package."""
from __future__ import annotations

import pytest

spaces = pytest.importorskip("spaces", reason="the `spaces` package (requirements.txt)")


def test_gpu_uses_the_spaces_package_and_is_a_pass_through_off_zero_gpu():
    from spaces.config import Config

    from demo import gpu
    assert gpu._spaces is spaces and not Config.zero_gpu

    def invert(photo, model, space, optimizer, steps_v=200):
        return photo, steps_v

    for wrapped in (gpu.gpu(gpu.durations.invert)(invert), gpu.gpu()(invert)):
        assert wrapped is invert and wrapped("cat.png", "m", "w+", "adam", 5) == ("cat.png", 5)
    assert gpu.durations.invert("cat.png", "m", "w+", "adam", 1000) > gpu.durations.invert("cat.png", "m", "w+", "adam", 10)
