"""A stand-in for Colab's `google.colab` (tests only): importing it tells a notebook it is in Colab."""
