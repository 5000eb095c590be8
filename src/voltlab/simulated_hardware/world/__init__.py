"""The ground truth: recipe -> product -> XRD pattern and cell behaviour, with noise-free truth."""
