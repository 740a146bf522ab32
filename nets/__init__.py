"""Network definitions with TF-Slim's module names, signatures and variable names."""
