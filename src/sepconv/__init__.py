"""sepconv: Keras's SeparableConv1D as a Cython + OpenMP kernel (placeholder, filled in by the layer work)."""
