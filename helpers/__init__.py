"""Shared data and plotting utilities of the course "From autoencoders to conditional GANs".

Model code lives in the notebooks; this package holds what several notebooks share:
config (quick/full mode, seeding, output folder), data (offline MNIST, tf.data pipelines),
plots (image grids, latent scatters, manifolds, curves), gif (per-epoch frames to GIF),
progress (a one-line progress bar that saves cleanly in notebooks), evaluate (PCA, k-NN,
Fréchet distance, per-class accuracy) and classifier (a cached MNIST CNN to score generators).
"""

from helpers.config import by_mode, data_dir, is_quick, output_dir, seed_everything

__all__ = ["by_mode", "data_dir", "is_quick", "output_dir", "seed_everything"]
