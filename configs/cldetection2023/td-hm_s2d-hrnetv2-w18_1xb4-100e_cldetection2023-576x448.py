# CL-Detection 2023 (38 landmarks, three centres, spacing 0.1 / 0.096 / ~0.125 mm per image):
# the ISBI S2D recipe with CL-Detection's data. Images differ in size and orientation
# (1935x2400, 2880x2304, ~2089x1937), which is why the bbox is the NORMALISED ROI prior.
#
# Data: python -m data_converters cldetection2023 --stack train_stack.mha \
#           --labels train-gt.json --out data/cldetection2023 --split baseline2023
#       (writes data/cldetection2023/images/NNN.png; file_name is relative to that folder;
#        --split baseline2023 = the official baselines' 300/50/50 split of the 400 released
#        training images, recorded in every JSON's info.split; without it a seeded split
#        that shares only ~15 of their 50 val images, or --split-file)
# Selection: by MRE on val; test with the test split. Reference: the official MMPose
# baseline reached 2.199 mm MRE / 65.5 % SDR 2 mm on ITS 50-image test split: compare
# with it only on data converted with --split baseline2023.
# Submission: python -m data_converters cldetection2023-submission --predictions \
#           work_dirs/x/test.predictions.json --annotations data/cldetection2023/annotations/test.json \
#           --out submission.json   (test with test_evaluator.outfile_prefix=work_dirs/x/test)
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
# The 8 ISBI measurements apply (the first 19 landmarks are ISBI's, by name:
# mmceph.clinical.isbi_indices); off here so MRE/SDR stay the numbers compared.
val_evaluator = dict(type='CephalometricMetric', clinical=False)
test_evaluator = val_evaluator
