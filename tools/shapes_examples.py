"""Time the procedural shapes' generation and save an example sheet of them (development only).

Usage: python tools/shapes_examples.py [OUT.png]     (default shapes_examples.png)
"""
import sys
import time

import numpy as np

from tinyvae.data.shapes import N_ROTATIONS, SHAPE_NAMES, SIZE, load, render
from tinyvae.studies.plots import plot_image_rows, save_figure


t0 = time.perf_counter()
data = load()
print(f"generated {len(data.x_train) + len(data.x_test)} images in "
      f"{time.perf_counter() - t0:.3f} s; train {data.x_train.shape}, test {data.x_test.shape}")
out = sys.argv[1] if len(sys.argv) > 1 else "shapes_examples.png"
turns = np.arange(4) * (N_ROTATIONS // 4)                                       # (4,) rotations
rows = [(f"{SHAPE_NAMES[s]}: rotation", render(s, 3, turns, 5, 5)) for s in range(3)]
rows += [(f"{SHAPE_NAMES[s]}: scale, x, y", render(s, np.arange(4), 0, np.arange(4) * 3, 5 - np.arange(4)))
         for s in range(3)]
rows = [(label, images.reshape(len(images), -1)) for label, images in rows]
save_figure(plot_image_rows(rows, (SIZE, SIZE), "the procedural shapes: each row varies its factors"), out)
print(f"saved {out}")
