"""Per-image preprocessing for training and evaluation, TF-Slim's `preprocessing` package.

`preprocessing_factory.get_preprocessing(name, is_training, use_grayscale)` returns the
function for a preprocessing or model name; one module per recipe (inception, vgg,
cifarnet, lenet, alexnet) and shared helpers in `image_ops`.
"""
