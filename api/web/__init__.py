"""What the pages and the feed are made of: templates, static files, wording.

``templating`` sets up Jinja and the static files, ``present`` says figures
and events the way a reader reads them, ``chart`` lays out the verdict
history, and ``atom`` writes the feed; the controllers that serve them are in
:mod:`api.controllers`.
"""
