"""Studio: a desktop image studio for artists built on latent diffusion."""

__version__ = "0.1.0"
