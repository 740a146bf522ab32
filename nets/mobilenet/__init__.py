"""MobileNet v2, v3 and EdgeTPU: one engine (`mobilenet`), blocks (`conv_blocks`), tables.

`mobilenet_v2` and `mobilenet_v3` hold the tables and register the published variants;
MobileNet v1 lives in `nets/mobilenet_v1.py`, as in TF-Slim.
"""
