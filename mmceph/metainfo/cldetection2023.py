"""CL-Detection 2023 (MICCAI challenge): 38 landmarks, three centres, per-image spacing.

The order is the challenge's (label names "1".."38" in train-gt.json); the first 19 are the
ISBI 2015 landmarks in ISBI's order, so ISBI-trained knowledge and measurements carry over.
"""
from . import isbi2015
from ._build import build_dataset_info

KEYPOINTS = isbi2015.KEYPOINTS + [
    'symphysis_centre', 'upper_incisor_apex', 'lower_incisor_apex', 'columella',
    'pterygomaxillary_fissure', 'condylion', 'pronasale', 'basion', 'pt_point', 'bolton',
    'upper_lip_vermilion', 'lower_lip_vermilion', 'soft_tissue_gnathion',
    'soft_tissue_menton', 'glabella', 'soft_tissue_nasion', 'cervical_point',
    'upper_molar', 'lower_molar']
# The label file names landmark k (1-based) as the string str(k).
LABEL_NAMES = [str(k) for k in range(1, len(KEYPOINTS) + 1)]
SKELETON = [
    ('sella', 'nasion'), ('porion', 'orbitale'), ('posterior_nasal_spine', 'anterior_nasal_spine'),
    ('gonion', 'menton'), ('articulare', 'gonion'), ('supramentale', 'pogonion'),
    ('pogonion', 'gnathion'), ('gnathion', 'menton'),
    ('upper_incisal_incision', 'upper_incisor_apex'),
    ('lower_incisal_incision', 'lower_incisor_apex'),
    ('glabella', 'soft_tissue_nasion'), ('soft_tissue_nasion', 'pronasale'),
    ('pronasale', 'columella'), ('columella', 'subnasale'), ('subnasale', 'upper_lip'),
    ('upper_lip', 'lower_lip'), ('lower_lip', 'soft_tissue_pogonion'),
    ('soft_tissue_pogonion', 'soft_tissue_gnathion'),
    ('soft_tissue_gnathion', 'soft_tissue_menton'), ('soft_tissue_menton', 'cervical_point'),
    ('basion', 'sella')]
dataset_info = build_dataset_info(
    'cldetection2023', KEYPOINTS, SKELETON,
    paper_info=dict(
        title='CL-Detection 2023: Cephalometric Landmark Detection in Lateral X-ray Images',
        container='MICCAI 2023 challenge', year='2023',
        homepage='https://cl-detection2023.grand-challenge.org'))
