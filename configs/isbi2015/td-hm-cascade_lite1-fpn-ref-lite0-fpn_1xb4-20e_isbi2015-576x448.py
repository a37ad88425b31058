# ISBI 2015: the Lite1 global model (td-hm_lite1-fpn_1xb4-30e_*) under the recommended
# Lite0 refiner. The refiner learnt from ground-truth patches only, so it is not retrained:
# put it under the Lite1 checkpoint with
#   python tools/analysis_tools/attach_refiner.py LITE1_GLOBAL.pth LITE0_CASCADE.pth OUT.pth
# and test OUT.pth with this config (docs/accuracy_protocol.md, section 7). Training this
# config instead trains a new refiner over a frozen Lite1 global model (load_from).
_base_ = ['./td-hm-cascade_lite0-fpn-ref-lite0-fpn_1xb4-20e_isbi2015-576x448.py']

load_from = 'work_dirs/isbi_lite1-fpn/best_MRE.pth'
model = dict(backbone=dict(type='EfficientNetLite1'))
