"""Quality measures that need no downloaded networks: sliced Wasserstein distance, discriminator-feature
distances, nearest neighbours."""
from .features import FeatureDistance, pixel_rms_matrix
from .neighbours import nearest_neighbours
from .swd import laplacian_pyramid, sliced_wasserstein

__all__ = ["FeatureDistance", "laplacian_pyramid", "nearest_neighbours", "pixel_rms_matrix", "sliced_wasserstein"]
