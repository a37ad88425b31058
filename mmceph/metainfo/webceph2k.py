"""WebCeph2k: 26 landmarks with per-image pixel spacing and missing points."""
from ._build import build_dataset_info

# The CSV column prefixes, in order (``<NAME>_v, <NAME>_x, <NAME>_y``).
CSV_NAMES = [
    'SELLA', 'NASION', 'PORION', 'ORBITALE', 'U I APEX', 'POINT A', 'U I EDGE', 'L I EDGE',
    'POINT B', 'L I APEX', 'POGONION', 'MENTON', 'U 6 APEX', 'U 6 CUSP', 'L 6 CUSP',
    'L 6 APEX', 'GONION L', 'GONION U', 'CONDYLE', 'PNS', 'BASION', 'U_6_MCP', 'L_6_MCP',
    'ANS', 'ARTICULAR', 'ANAT_POR']
KEYPOINTS = [n.lower().replace(' ', '_') for n in CSV_NAMES]
SKELETON = [('sella', 'nasion'), ('porion', 'orbitale'), ('pns', 'ans'),
            ('u_i_apex', 'u_i_edge'), ('l_i_apex', 'l_i_edge'), ('gonion_l', 'menton'),
            ('u_6_apex', 'u_6_cusp'), ('l_6_apex', 'l_6_cusp')]
dataset_info = build_dataset_info('webceph2k', KEYPOINTS, SKELETON)
