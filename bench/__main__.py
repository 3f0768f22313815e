"""``python -m bench`` is ``leadpipe bench``."""

from leadpipe.cli.bench import app

app()
