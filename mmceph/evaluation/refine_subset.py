"""Which landmarks a ``LandmarkCascade`` should refine under a compute budget
(``refine_only``): the refiner costs the same for every landmark it looks at but does not
gain the same everywhere."""
import numpy as np


def subsets_by_gain(e_coarse, e_refined, base, per_landmark, budget):
    """Per-landmark gain (K, ), landmarks by decreasing gain, rows (n, MRE, GFLOPs) for
    refining the first n of them, and the n of lowest MRE within ``budget`` (None if the
    global model alone is over it). ``e_*``: (images, K) errors of the global model and
    of refining every one."""
    gain = np.nanmean(e_coarse, 0) - np.nanmean(e_refined, 0)
    order = [int(k) for k in np.argsort(-gain, kind='stable')]
    rows, best = [], None
    for n in range(len(order) + 1):
        mixed = e_coarse.copy()
        mixed[:, order[:n]] = e_refined[:, order[:n]]
        rows.append((n, float(np.nanmean(mixed)), base + n * per_landmark))
        if rows[-1][2] <= budget and (best is None or rows[-1][1] < rows[best][1]):
            best = n
    return gain, order, rows, best
