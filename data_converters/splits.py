"""Seeded random train/val/test splits, for releases that ship one pool of images
(CL-Detection 2023's 400 training images, photographs without a "set" column). Shuffled
with numpy's generator from ``seed``: the same seed and count always give the same split."""
import argparse

import numpy as np


def seeded_split(n: int, val_fraction: float, test_fraction: float, seed: int) -> list:
    """The split name (``train``/``val``/``test``) of each of ``n`` items, in order.

    ``round(n * fraction)`` items go to test, then val; the rest train.
    """
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise ValueError(f'need 0 <= --val-fraction, 0 <= --test-fraction and their sum < 1, '
                         f'got {val_fraction} and {test_fraction}')
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    order = np.random.default_rng(seed).permutation(n)
    splits = ['train'] * n
    for i, row in enumerate(order):
        splits[row] = 'test' if i < n_test else 'val' if i < n_test + n_val else 'train'
    return splits


def seed_arg(text):
    """argparse type of --seed: numpy's generators take integers >= 0 only."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f'expected an integer >= 0, got {text!r}')
    return value
