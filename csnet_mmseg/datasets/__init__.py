from .robust import BAD_SAMPLE_ERRORS, SkipBadSamples, find_skip_bad_samples
from .sod import SOD_IGNORED_SUFFIXES, SOD_IMG_SUFFIXES, SODDataset
from .synthetic import make_synthetic_sod
from .transforms import *  # noqa: F401,F403

__all__ = [
    'SODDataset', 'SOD_IMG_SUFFIXES', 'SOD_IGNORED_SUFFIXES',
    'make_synthetic_sod', 'SkipBadSamples', 'BAD_SAMPLE_ERRORS',
    'find_skip_bad_samples'
]
