# csnet-L-x1: the released model (93,647 parameters), tested on the six SOD
# benchmarks. Its layer table (the one learned in the released checkpoint)
# is _base_/models/csnet_l_x1.py; the test set-up shared with csnet-L-x2 is
# _base_/csnet_l.py. Weights: tools/model_converters/csnet2mmseg.py.
_base_ = ['./_base_/models/csnet_l_x1.py', './_base_/csnet_l.py']
