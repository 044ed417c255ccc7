"""Deployment targets: the local process supervisor and Kubernetes manifests."""
