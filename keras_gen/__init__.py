"""keras-gen: VAEs and GANs for room images in Keras 3 / TensorFlow."""

__version__ = "0.1.0"
