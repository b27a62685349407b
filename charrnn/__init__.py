"""charrnn: character-level RNN / LSTM / GRU language models in pure NumPy.

    import charrnn
    m = charrnn.load("checkpoints/best.npz")
    print(m.sample(200, temperature=0.8, prime="def ", seed=1))
    charrnn.train("corpus.txt", out="runs/a", model="gru", hidden=256, max_steps=2000)
    charrnn.compare(["runs/a", "runs/b"]).to_dict()

(see charrnn.api; the modules are listed in the README's "Layout" section).
"""

__version__ = "0.1.0"

from charrnn.api import Model, compare, load, train  # noqa: E402  (light: the heavy imports happen on use)

__all__ = ["Model", "compare", "load", "train", "__version__"]
