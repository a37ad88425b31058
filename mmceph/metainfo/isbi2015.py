"""ISBI 2015 cephalometric challenge: 19 landmarks, 0.1 mm/px (Wang et al., MedIA 2016)."""
from ._build import build_dataset_info

KEYPOINTS = [
    'sella', 'nasion', 'orbitale', 'porion', 'subspinale', 'supramentale', 'pogonion',
    'menton', 'gnathion', 'gonion', 'lower_incisal_incision', 'upper_incisal_incision',
    'upper_lip', 'lower_lip', 'subnasale', 'soft_tissue_pogonion',
    'posterior_nasal_spine', 'anterior_nasal_spine', 'articulare']
SKELETON = [
    ('sella', 'nasion'), ('porion', 'orbitale'), ('nasion', 'subspinale'),
    ('nasion', 'supramentale'), ('posterior_nasal_spine', 'anterior_nasal_spine'),
    ('gonion', 'menton'), ('articulare', 'gonion'), ('supramentale', 'pogonion'),
    ('pogonion', 'gnathion'), ('gnathion', 'menton'),
    ('upper_incisal_incision', 'lower_incisal_incision'),
    ('subnasale', 'upper_lip'), ('upper_lip', 'lower_lip'),
    ('lower_lip', 'soft_tissue_pogonion')]
dataset_info = build_dataset_info(
    'isbi2015', KEYPOINTS, SKELETON,
    paper_info=dict(
        title='A benchmark for comparison of dental radiography analysis algorithms',
        container='Medical Image Analysis', year='2016',
        homepage='https://doi.org/10.1016/j.media.2016.02.004'))
