"""Deprecated location of :mod:`csnet_mmseg.pruning` (kept for old imports).

Channel pruning lives in the :mod:`csnet_mmseg.pruning` package; import from
there. This alias will be removed once no importer is left.
"""
from csnet_mmseg.pruning import *  # noqa: F401,F403
from csnet_mmseg.pruning import __all__  # noqa: F401
