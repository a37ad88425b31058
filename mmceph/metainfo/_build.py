"""Build MMPose ``dataset_info`` dicts from a list of names and a skeleton.

Cephalograms have no left/right pairs, so no landmark has a flip partner ('swap' is
empty); sigmas only matter to OKS-based metrics, which mmceph does not use for selection.
"""


def build_dataset_info(name: str, keypoints: list, skeleton: list, paper_info: dict = None,
                       sigma: float = 0.025) -> dict:
    palette = [[255, 64, 64], [64, 160, 255], [64, 220, 96], [255, 200, 0]]
    return dict(
        dataset_name=name,
        paper_info=paper_info or {},
        keypoint_info={i: dict(name=n, id=i, color=palette[i % 4], type='', swap='')
                       for i, n in enumerate(keypoints)},
        skeleton_info={i: dict(link=(a, b), id=i, color=[255, 255, 255])
                       for i, (a, b) in enumerate(skeleton)},
        joint_weights=[1.0] * len(keypoints),
        sigmas=[sigma] * len(keypoints))
