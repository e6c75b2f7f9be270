# csnet-L-x2 tested on the 107-image PASCAL-S development subset in
# $SOD_DATA_ROOT/pascal-s-dev (default data/sod/pascal-s-dev; run the tools
# from the repository root). A subset: too small to rank models.
_base_ = ['./_base_/models/csnet_l_x2.py', './_base_/csnet_l_pascal_s_dev.py']
