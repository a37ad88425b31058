# WebCeph2k (26 landmarks, per-image pixel spacing, missing points excluded from loss and
# metric): the ISBI S2D recipe with WebCeph2k's data.
#
# Data: python -m data_converters webceph2k --csv-dir CSVS --image-root IMAGES --out data/webceph2k
#       ln -s /path/to/IMAGES data/webceph2k/images     (file_name is relative to the image root)
# Selection: by MRE on the valid split; test with the test split.
_base_ = ['../isbi2015/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

data_root = 'data/webceph2k/'
dataset_type = 'WebCeph2kDataset'
model = dict(head=dict(out_channels=26))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/train.json',
                                     data_prefix=dict(img='images/')))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/valid.json',
                                   data_prefix=dict(img='images/')))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                    ann_file='annotations/test.json',
                                    data_prefix=dict(img='images/')))
# The 8 ISBI measurements are defined on the 19 ISBI landmarks only.
val_evaluator = dict(type='CephalometricMetric', clinical=False)
test_evaluator = val_evaluator
