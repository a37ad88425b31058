"""One value per refiner of a ``LandmarkCascade``: the model and its training transform
(``SampleRefinerPatches``) read the same config values through it."""


def per_refiner(value, n: int, name: str, cast, pairs: bool = False) -> list:
    """One value per refiner: a shared value is repeated, a list must have one per refiner."""
    values = [value] if (not isinstance(value, (list, tuple))
                         or (pairs and not isinstance(value[0], (list, tuple)))) else list(value)
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise ValueError(f'{name}: {len(values)} values for {n} refiners')
    return [cast(v) for v in values]
