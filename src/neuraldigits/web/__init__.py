"""The drawing pad: draw a digit in the browser and watch the network read it.

:mod:`.reading` computes what the page shows (numpy only); :mod:`.app` serves
it with FastAPI; ``static/`` holds the page itself (plain HTML, CSS and JS, no
build step, nothing fetched from elsewhere).  Needs the ``web`` extra.
"""
