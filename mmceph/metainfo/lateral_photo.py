"""Lateral face photographs ("1501 patient records"): 19 points at 224x224, no spacing."""
from ._build import build_dataset_info

# Column prefixes as found in the pickle (spellings vary; the converter normalises them).
KEYPOINTS = [
    'sella', 'nasion', 'a_point', 'b_point', 'upper_1_tip', 'upper_1_apex', 'lower_1_tip',
    'lower_1_apex', 'ans', 'pns', 'gonion', 'menton', 'st_nasion', 'tip_of_the_nose',
    'subnasal', 'upper_lip', 'lower_lip', 'st_pogonion', 'gnathion']
SKELETON = [('sella', 'nasion'), ('ans', 'pns'), ('upper_1_tip', 'upper_1_apex'),
            ('lower_1_tip', 'lower_1_apex'), ('gonion', 'menton'),
            ('st_nasion', 'tip_of_the_nose'), ('tip_of_the_nose', 'subnasal'),
            ('subnasal', 'upper_lip'), ('upper_lip', 'lower_lip'),
            ('lower_lip', 'st_pogonion')]
dataset_info = build_dataset_info('lateral_photo', KEYPOINTS, SKELETON)
