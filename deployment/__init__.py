"""Multi-device and multi-machine deployment of models (TF-Slim's model_deploy)."""
