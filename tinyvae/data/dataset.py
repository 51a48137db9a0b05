"""The :class:`Dataset` every loader returns: a train/test split of flattened images in [0, 1]."""
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np


@dataclass
class Dataset:
    """A train/test split of flattened images with values in [0, 1].

    x_train : (N_train, D) float32      y_train : (N_train,) int64 labels
    x_test  : (N_test, D) float32       y_test  : (N_test,) int64 labels
    image_shape : (H, W) with H * W == D
    factors_train / factors_test : (N, K) int64 factor indices, or None when unknown
    factor_names : names of the K factors, and factor_sizes : how many values each takes
    render : the images (N, H, W) of (N, K) factor indices, for data drawn by code (the
             shapes), or None; the FactorVAE score draws its own images with it
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: Tuple[int, int]
    factors_train: Optional[np.ndarray] = None
    factors_test: Optional[np.ndarray] = None
    factor_names: Tuple[str, ...] = ()
    factor_sizes: Tuple[int, ...] = ()
    render: Optional[Callable[[np.ndarray], np.ndarray]] = None

    @property
    def D(self) -> int:
        return self.x_train.shape[1]
