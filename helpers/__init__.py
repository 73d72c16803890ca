"""Shared data and plotting utilities of the course "From autoencoders to conditional GANs".

Model code lives in the notebooks; this package holds what several notebooks share:
config (the run context: quick/full mode, seed, output folder; seeding), data (offline MNIST, the
image normaliser, tf.data pipelines), plots (image grids, latent scatters, manifolds, curves), gif
(per-epoch frames to GIF), progress (a one-line progress bar that saves cleanly in notebooks),
training (the bookkeeping of a resumable training loop), vae (the VAE maths notebook 03 teaches),
evaluate (PCA, k-NN, Fréchet distance, per-class accuracy), classifier (a cached MNIST CNN to score
generators), scoring (generated digits against real ones), targets (the goals several places
check), expect (statistical checks that log their margins), explorer (latent-space sliders),
checks (exercise checks, and their grading half) and colab (the Colab set-up cell's report).
"""

from helpers.config import RunContext, display_path, run_context, seed_everything

__all__ = ["RunContext", "display_path", "run_context", "seed_everything"]
