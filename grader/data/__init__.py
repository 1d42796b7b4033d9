"""MNIST: reading the IDX files (mnist.py), and downloading them with their checksums verified
(fetch.py, against the manifest mnist.json)."""
