# csnet-L-x2: the released model (140,894 parameters), tested on the six SOD
# benchmarks. Its layer table (the one learned in the released checkpoint)
# is _base_/models/csnet_l_x2.py; the test set-up shared with csnet-L-x1 is
# _base_/csnet_l.py. Weights: tools/model_converters/csnet2mmseg.py.
_base_ = ['./_base_/models/csnet_l_x2.py', './_base_/csnet_l.py']
