"""leadpipe's benchmarks: every figure beside a baseline measured in the same run.

Run them with ``leadpipe bench`` (see bench/README.md). This package lives beside the service
packages, not in them: it needs the checkout (the local stack, the migrations) like ``leadpipe up``.
"""
