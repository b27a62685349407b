"""The numerical core: recurrent cells (forward/backward pairs), the layer stack, losses,
optimizers, scratch memory and BLAS threads. Knows nothing of files, tasks or the command line."""
