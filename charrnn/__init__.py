"""charrnn: character-level RNN / LSTM / GRU language models in pure NumPy."""

__version__ = "0.1.0"
