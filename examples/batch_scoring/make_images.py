"""Write sklearn's 8x8 digits as PNG files: ``python make_images.py FOLDER COUNT [START]``."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def write(folder: Path, count: int, start: int = 0) -> None:
    images = load_digits().images.astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        Image.fromarray(images[i % len(images)], mode="L").save(folder / f"digit_{i:05d}.png")


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
