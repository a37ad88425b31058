"""Aariz: 29 landmarks (15 skeletal, 8 dental, 6 soft tissue) on 1000 cephalograms from
seven devices, with a CVM stage per image.

The order is the release repository's (``ANATOMICAL_LANDMARKS`` in its config.py); the
annotation JSONs name landmarks by these symbols, so the converter matches them by
symbol, never by position.
"""
from ._build import build_dataset_info

# The symbols of the annotation JSONs, in the repository's order.
SYMBOLS = [
    'A', 'ANS', 'B', 'Me', 'N', 'Or', 'Pog', 'PNS', 'Pn', 'R', 'S', 'Ar', 'Co', 'Gn', 'Go',
    'Po', 'LPM', 'LIT', 'LMT', 'UPM', 'UIA', 'UIT', 'UMT', 'LIA', 'Li', 'Ls', 'N`', 'Pog`',
    'Sn']
KEYPOINTS = [
    'a_point', 'anterior_nasal_spine', 'b_point', 'menton', 'nasion', 'orbitale',
    'pogonion', 'posterior_nasal_spine', 'pronasale', 'ramus', 'sella', 'articulare',
    'condylion', 'gnathion', 'gonion', 'porion', 'lower_2nd_pm_cusp_tip',
    'lower_incisor_tip', 'lower_molar_cusp_tip', 'upper_2nd_pm_cusp_tip',
    'upper_incisor_apex', 'upper_incisor_tip', 'upper_molar_cusp_tip', 'lower_incisor_apex',
    'labrale_inferius', 'labrale_superius', 'soft_tissue_nasion', 'soft_tissue_pogonion',
    'subnasale']
SKELETON = [
    ('sella', 'nasion'), ('porion', 'orbitale'), ('posterior_nasal_spine', 'anterior_nasal_spine'),
    ('articulare', 'gonion'), ('gonion', 'menton'), ('b_point', 'pogonion'),
    ('pogonion', 'gnathion'), ('gnathion', 'menton'),
    ('upper_incisor_tip', 'upper_incisor_apex'), ('lower_incisor_tip', 'lower_incisor_apex'),
    ('soft_tissue_nasion', 'pronasale'), ('pronasale', 'subnasale'),
    ('subnasale', 'labrale_superius'), ('labrale_superius', 'labrale_inferius'),
    ('labrale_inferius', 'soft_tissue_pogonion')]
dataset_info = build_dataset_info(
    'aariz', KEYPOINTS, SKELETON,
    paper_info=dict(
        title='Aariz: A Benchmark Dataset for Automatic Cephalometric Landmark Detection '
              'and CVM Stage Classification',
        container='arXiv', year='2023',
        homepage='https://github.com/manwaarkhd/aariz-cephalometric-dataset'))
