"""Landmark names, skeletons and MMPose ``dataset_info`` of each supported dataset.

Plain data modules (no MMPose, no torch): the datasets, the converters and inference all
import them, so each dataset's landmark list has exactly one owner.
"""
