"""The tasks: what a model computes from a batch and what its loss is (language model, seq2seq)."""
