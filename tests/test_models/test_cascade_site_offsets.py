"""LandmarkCascade and site offsets: the refiners re-centre on the UNADAPTED global
estimate, and the offsets are added once, after refinement (CephalometricEstimator.predict)."""
import numpy as np
import pytest
import torch
from mmpose.registry import MODELS
from test_landmark_cascade import predict_sample, tiny_cascade

import mmceph.models.pose_estimators.landmark_cascade as cascade_module
from mmceph.models.pose_estimators.cephalometric_estimator import CephalometricEstimator

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_cascade_applies_offsets_after_refinement_only(monkeypatch):
    assert cascade_module.LandmarkCascade.predict is CephalometricEstimator.predict
    seen = []

    def fake_refine(refiners, image, kpts, scores, *args):
        seen.append(np.array(kpts, copy=True))
        return kpts + 1.0, scores

    monkeypatch.setattr(cascade_module, 'refine_landmarks', fake_refine)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cascade()).eval()
    inputs = torch.zeros(1, 3, 192, 160)
    plain = model.predict(inputs, [predict_sample()])[0].pred_instances.keypoints.copy()
    offsets = np.tile([[0.01, -0.02]], (19, 1))
    model.set_site_offsets(offsets)
    sample = predict_sample()
    scale = np.asarray(sample.metainfo['input_scale'], np.float32)
    adapted = model.predict(inputs, [sample])[0].pred_instances.keypoints
    np.testing.assert_allclose(seen[0], seen[1], atol=1e-6)          # same global estimate
    np.testing.assert_allclose(plain[0], seen[0] + 1.0, atol=1e-5)
    np.testing.assert_allclose(adapted[0], plain[0] + offsets * scale, atol=1e-4)
