"""The plausible pixel spacing (mm per pixel): one range for every place that takes one.

The converters (a spacing column, a ruler, a machine table), the annotation schema
(:mod:`.coco`), the clinical measurements (:mod:`mmceph.clinical`) and inference
(``--pixel-spacing``, a DICOM's PixelSpacing) all check against :data:`SPACING_RANGE_MM`,
so a spacing that converts and trains is also one inference accepts, and the reverse.

Why 0.01 to 5 mm/px:

- Radiographs: ISBI 2015 0.1, CL-Detection 2023 0.096-0.125, Aariz 0.08-0.14 per
  machine, WebCeph2k around 0.1, cephalostat and flat-panel DICOMs 0.05-0.2; the finest
  dental detectors are ~0.02.
- Lateral photographs at the sizes users feed: a 4000-px photo of a ~25 cm face is about
  0.06 mm/px, a 48-MP phone photo (8000 px) about 0.03, a 256-px thumbnail about 1, the
  photograph set's 224-px images about 1 (ruler) and a 64-px thumbnail about 4.
- Below 0.01 a 25 cm skull would be 25000 px across (600 megapixels, ten times what
  inference decodes at all): a unit slip (um for mm). Above 5 a skull is under 50 px
  across, smaller than any model's input: most likely pixels per mm typed as mm per pixel
  (ISBI's 10 px/mm gives "10").
"""
import math
from typing import Optional

SPACING_RANGE_MM = (0.01, 5.0)


def spacing_problem(value) -> Optional[str]:
    """None when ``value`` is a plausible spacing (a real number in the range, bounds
    included); otherwise what is wrong with it, for a message."""
    lo, hi = SPACING_RANGE_MM
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f'expected a number of mm per pixel, got {value!r}'
    if not math.isfinite(value) or not lo <= value <= hi:
        return f'expected mm per pixel between {lo:g} and {hi:g}, got {value!r}'
    return None


def check_spacing_mm(value, what: str) -> float:
    """``value`` as a float when it is a plausible spacing; else ``ValueError`` naming
    ``what`` (e.g. the file and field it came from)."""
    problem = spacing_problem(value)
    if problem:
        raise ValueError(f'{what}: {problem}')
    return float(value)


def parse_spacing_mm(value) -> Optional[float]:
    """A spacing given as a number or as a numeric string (CL-Detection's ``"0.1"``,
    a CSV cell): the float when it is plausible, else None."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    return None if spacing_problem(value) else float(value)
