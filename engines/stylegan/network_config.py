"""What the configs of our networks share (`StyleGAN2Config`, `DiscriminatorConfig`, `EncoderConfig`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class NetworkConfig:
    """The images a network makes or reads (side in pixels, channels), first among its config's fields; the
    config as a dict (saved as JSON next to the weights)."""
    img_resolution: int = 64
    img_channels: int = 3

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
