"""A stand-in for Colab's `google.colab` module (tests only): importing it is how a notebook knows it is in Colab."""
