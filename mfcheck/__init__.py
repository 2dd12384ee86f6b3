"""mfcheck: verify by experiment the mean-field limit theorems of two-layer neural networks.

Particle SGD on ŷ(x; θ) = (1/N) Σ σ*(x; θ_i) against the McKean–Vlasov dynamics of its limit
law ρ_t (Mei, Montanari, Nguyen, PNAS 2018), with rate fits, stated false-alarm rates and
measured power.
"""

__version__ = "0.1.0"
