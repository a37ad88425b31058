# CL-Detection 2023 (38 landmarks, three centres, spacing 0.1 / 0.096 / ~0.125 mm per image):
# the ISBI S2D recipe with CL-Detection's data. Images differ in size and orientation
# (1935x2400, 2880x2304, ~2089x1937), which is why the bbox is the NORMALISED ROI prior.
#
# Data: python -m data_converters cldetection2023 --stack train_stack.mha \
#           --labels train-gt.json --out data/cldetection2023
#       (writes data/cldetection2023/images/NNN.png; file_name is relative to that folder;
#        a seeded 300/50/50 split of the 400 released training images, or --split-file)
# Selection: by MRE on val; test with the test split. Reference: the official MMPose
# baseline reached 2.199 mm MRE / 65.5 % SDR 2 mm on its own 50-image split.
_base_ = ['../isbi2015/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

data_root = 'data/cldetection2023/'
dataset_type = 'CLDetection2023Dataset'
model = dict(head=dict(out_channels=38))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/train.json',
                                     data_prefix=dict(img='')))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/val.json',
                                   data_prefix=dict(img='')))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                    ann_file='annotations/test.json',
                                    data_prefix=dict(img='')))
# The 8 ISBI measurements are defined on the 19 ISBI landmarks only.
val_evaluator = dict(type='CephalometricMetric', clinical=False)
test_evaluator = val_evaluator
