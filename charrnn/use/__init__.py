"""Using a trained model: sample, evaluate, translate, info, compare."""
