"""Skeleton data: format readers, the embedded demo dataset, streams and labelled subsets."""
from cpm.data.dataset import SkeletonDataset, build_dataset
from cpm.data.streams import to_stream
from cpm.data.subsets import label_subset, load_subset, save_subset

__all__ = ["SkeletonDataset", "build_dataset", "label_subset", "load_subset", "save_subset", "to_stream"]
