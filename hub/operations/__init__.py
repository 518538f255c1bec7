"""What operators look at: the hub's status (`status`) and its Prometheus metrics (`metrics`).

Modules here gather figures from the broker and the stores for the `sitn status` command, the
Prometheus `/metrics` endpoint and the operators' dashboard; they only read, never write.
"""
