"""The review application: predict a folder, review the least confident first, correct,
approve, export the corrections as the site's labelled images, adapt (``tools/review.py``).

The parts, one owner each: :mod:`.paths` (which files may be served), :mod:`.store`
(records, versions, worklist order, measurements through :mod:`mmceph.clinical`),
:mod:`.export` (COCO through :mod:`mmceph.formats.coco`, CSV, one-page reports),
:mod:`.worker` (predictions and adaptation in the background) and :mod:`.app` (the HTTP
API and the static page). Only :mod:`.app` needs Starlette.
"""
