"""The Latent space page: projections (views) and reconstructions and weights (pictures)."""
