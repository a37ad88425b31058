# Aariz (29 landmarks, seven devices, CVM stage per image): the ISBI S2D recipe with
# Aariz's data.
#
# Data: python -m data_converters aariz --root /path/to/Aariz --out data/aariz \
#           [--annotator senior|junior|mean]
#       ln -s /path/to/Aariz data/aariz/raw      (file_name is relative to the root)
# The spacing comes from the archive's root cephalogram_machine_mappings.csv (or
# --machine-csv). Without either no image has a spacing and the metric reports pixels
# (MRE_px): save_best must then be 'MRE_px'. The reference annotation is recorded in the JSON and
# logged by the metric.
# Selection: by MRE on Valid; test with Test.
_base_ = ['../isbi2015/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

data_root = 'data/aariz/'
dataset_type = 'AarizDataset'
model = dict(head=dict(out_channels=29))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/train.json',
                                     data_prefix=dict(img='raw/')))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/valid.json',
                                   data_prefix=dict(img='raw/')))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                    ann_file='annotations/test.json',
                                    data_prefix=dict(img='raw/')))
val_evaluator = dict(type='CephalometricMetric', clinical=False)
test_evaluator = val_evaluator
