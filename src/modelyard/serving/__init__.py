"""The inference server: a registered version, downloaded and checked, served over the Open
Inference Protocol (KServe v2) and MLflow's scoring protocol."""
