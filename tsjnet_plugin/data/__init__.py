"""Framework-free data layer: the pair index, validated image reading, dataset readers and the
embedded synthetic dataset. Imports numpy and PIL only."""

from .dispatch import READERS, read_dataset
from .io import read_image_size, read_ir, read_ir_levels, read_seg_label, read_visible
from .labels import read_class_file
from .packing import MODALITIES, PAIR_CHANNELS, pack_pair, to_levels_255
from .readers import (
    IMAGE_EXTENSIONS,
    LLVIP_CLASSES,
    M3FD_CLASSES,
    MSRS_DET_LABELS,
    MSRS_DET_TEST_FRACTION,
    MSRS_SEG_CLASSES,
    msrs_lighting,
    read_llvip,
    read_m3fd,
    read_msrs,
    read_msrs_det,
    read_pairs_folder,
    read_roadscene,
    read_tno,
)
from .records import DatasetError, PairDataset, PairRecord
from .synthetic import (
    SYNTHETIC_STUFF_CLASSES,
    SYNTHETIC_THING_CLASSES,
    SyntheticScene,
    generate_scene,
    write_synthetic_msrs,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "LLVIP_CLASSES",
    "M3FD_CLASSES",
    "MODALITIES",
    "MSRS_DET_LABELS",
    "MSRS_DET_TEST_FRACTION",
    "MSRS_SEG_CLASSES",
    "PAIR_CHANNELS",
    "READERS",
    "SYNTHETIC_STUFF_CLASSES",
    "SYNTHETIC_THING_CLASSES",
    "DatasetError",
    "PairDataset",
    "PairRecord",
    "SyntheticScene",
    "generate_scene",
    "msrs_lighting",
    "pack_pair",
    "read_class_file",
    "read_dataset",
    "read_image_size",
    "read_ir",
    "read_ir_levels",
    "read_llvip",
    "read_m3fd",
    "read_msrs",
    "read_msrs_det",
    "read_pairs_folder",
    "read_roadscene",
    "read_seg_label",
    "read_tno",
    "read_visible",
    "to_levels_255",
    "write_synthetic_msrs",
]
