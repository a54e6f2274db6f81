"""Install tooling: the portable llama-cpp-python wheel and the offline bundle (``make``)."""
