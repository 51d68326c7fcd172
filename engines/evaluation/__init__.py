"""Quality measures that need no downloaded networks: sliced Wasserstein distance, nearest neighbours."""
from .neighbours import nearest_neighbours
from .swd import laplacian_pyramid, sliced_wasserstein

__all__ = ["laplacian_pyramid", "nearest_neighbours", "sliced_wasserstein"]
