# ISBI 2015, patch voting with its local stage (Noothout et al. 2020): the global patch
# voting model (td-vote_*.py, frozen) + the same local refiner as the S2D cascade recipe.
#
# The refiner never sees the global model while it learns (patches around the ground
# truth), so a refiner trained in the S2D cascade serves here unchanged:
#   python tools/analysis_tools/attach_refiner.py work_dirs/isbi_vote/best_MRE.pth \
#       work_dirs/isbi_s2d-cascade/best_MRE.pth work_dirs/isbi_vote-cascade/vote+refiner.pth
#   mim test mmceph THIS_CONFIG --checkpoint work_dirs/isbi_vote-cascade/vote+refiner.pth
# or train a refiner of its own on top of the voting model:
#   mim train mmceph THIS_CONFIG --cfg-options load_from=work_dirs/isbi_vote/best_MRE.pth
_base_ = ['./td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py']

load_from = 'work_dirs/isbi_vote/best_MRE.pth'
input_size = (448, 576)
patch_size = 16
vote_codec = dict(type='PatchVotingLabel', input_size=input_size, patch_size=patch_size,
                  radius=2 * patch_size, scale=1.0, topk=9)
codec = dict(_delete_=True, **vote_codec)
model = dict(
    head=dict(_delete_=True, type='PatchVotingHead', in_channels=270, out_channels=19,
              conv_out_channels=(270, ), conv_kernel_sizes=(3, ),
              displacement_loss='l1', decoder=vote_codec))
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    {{_base_.sample_patches}},
    dict(type='TopdownAffine', input_size=vote_codec['input_size']),
    dict(type='GenerateTarget', encoder=vote_codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
