"""The HTTP side of the review app (Starlette): a small JSON API and one static page.

API (JSON; ``name`` is an image's path relative to IMAGES_DIR):

=====================================  ==================================================
``GET  /api/state``                    landmark names, user, prediction progress, adaptation
``GET  /api/worklist``                 every image, what needs a human first
``GET  /api/image?name=``              record, measurements and their lines of one image
``GET  /api/pixels?name=``             the image as the model saw it (BMP, full resolution)
``GET  /api/thumb?name=``              a small JPEG
``PUT  /api/landmarks?name=``          ``{"version", "points": [[x, y] | null, ...]}``: save
``POST /api/measure?name=``            ``{"points"}``: measurements of unsaved positions
``POST /api/approve?name=``            ``{"version"}``: sign the image off
``POST /api/export``                   approved images -> REVIEW_DIR/export
``POST /api/adapt`` / ``GET``          site adaptation on the approved images / its state
``POST /api/repredict``                untouched images again, with the adapted model
``GET  /files/PATH``                   a file written under REVIEW_DIR/export
=====================================  ==================================================

Errors are ``{"error": "one line"}`` with 400 (invalid request, nothing saved), 401 (no
or wrong token), 404, 409 (the image changed since the page loaded it), 413 (body too
large). Only files inside IMAGES_DIR and REVIEW_DIR are ever read (:mod:`.paths`).
"""
import hmac
import json
import os.path as osp
import threading
from typing import Optional, Sequence
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS
from ..utils.atomic import write_atomic
from .paths import UnsafePath, resolve_inside
from .store import Conflict, InvalidEdit, ReviewStore, UnknownImage, measurements
from .worker import PredictionWorker

STATIC = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
MAX_BODY = 256 * 1024          # 19 points are < 1 kB; anything near this is not ours
CACHE = 'cache'
THUMB_SIZE = 160
TOKEN_COOKIE = 'mmceph_review_token'


class Guard:
    """ASGI middleware: token (when one is set), Host check (DNS rebinding), body limit."""

    def __init__(self, app, token: Optional[str], allowed_hosts: Optional[Sequence[str]],
                 max_body: int = MAX_BODY):
        self.app, self.token, self.max_body = app, token, max_body
        self.allowed_hosts = set(allowed_hosts) if allowed_hosts else None

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)
        headers = {k.decode('latin-1'): v.decode('latin-1') for k, v in scope['headers']}
        if self.allowed_hosts is not None and headers.get('host') not in self.allowed_hosts:
            return await _reply(send, 400, 'unexpected Host header')
        set_cookie = False
        if self.token:
            query = parse_qs(scope.get('query_string', b'').decode('latin-1'))
            given = (headers.get('authorization', '').removeprefix('Bearer ').strip()
                     or (query.get('token') or [''])[0] or _cookie(headers, TOKEN_COOKIE))
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return await _reply(send, 401, 'access token missing or wrong: open the '
                                    'address the server printed (with ?token=...)')
            set_cookie = (query.get('token') or [''])[0] == self.token
        length = headers.get('content-length')
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await _reply(send, 413, f'request body larger than {self.max_body} bytes')
        chunks, seen, more = [], 0, scope['method'] in ('POST', 'PUT', 'PATCH', 'DELETE')
        while more:                  # read the (small) body here, within the limit
            message = await receive()
            if message['type'] != 'http.request':
                return
            chunks.append(message.get('body', b''))
            seen += len(chunks[-1])
            if seen > self.max_body:
                return await _reply(send, 413, f'request body larger than {self.max_body} '
                                    'bytes')
            more = message.get('more_body', False)
        replay = [dict(type='http.request', body=b''.join(chunks), more_body=False)]

        async def buffered():
            return replay.pop() if replay else await receive()

        async def send_with_cookie(message):
            if set_cookie and message['type'] == 'http.response.start':
                cookie = f'{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict'
                message['headers'] = list(message.get('headers', [])) + [
                    (b'set-cookie', cookie.encode('latin-1'))]
            await send(message)
        await self.app(scope, buffered, send_with_cookie)


class BodyTooLarge(Exception):
    pass


def _cookie(headers, name):
    for part in headers.get('cookie', '').split(';'):
        key, _, value = part.strip().partition('=')
        if key == name:
            return value
    return ''


async def _reply(send, status, message):
    body = json.dumps(dict(error=message)).encode()
    await send(dict(type='http.response.start', status=status,
                    headers=[(b'content-type', b'application/json'),
                             (b'content-length', str(len(body)).encode())]))
    await send(dict(type='http.response.body', body=body))


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse(dict(error=str(message).splitlines()[0]), status_code=status)


def create_app(store: ReviewStore, worker: Optional[PredictionWorker], user: str,
               token: Optional[str] = None, allowed_hosts: Optional[Sequence[str]] = None):
    """The ASGI app of one review folder. numpy, OpenCV and the image reader are imported
    on first use (:func:`warm_up` does it in the background once the worklist has been
    served): the worklist does not wait for them."""

    def image_name(request: Request) -> str:
        name = request.query_params.get('name', '')
        store.image_path(name)          # UnsafePath / UnknownImage -> 400 / 404
        return name

    async def body(request: Request) -> dict:
        raw = await request.body()
        try:
            data = json.loads(raw or b'{}', parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise InvalidEdit('the body is not valid JSON (NaN and Infinity are refused)') \
                from None
        if not isinstance(data, dict):
            raise InvalidEdit('the body must be a JSON object')
        return data

    async def index(request):
        return FileResponse(osp.join(STATIC, 'index.html'), headers=_no_store())

    def state(request):
        # nothing here imports numpy or the clinical module: the page asks for the state
        # before the first worklist, which must not wait for them
        return JSONResponse(dict(names=store.names, user=user,
                                 progress=worker.progress() if worker else None,
                                 adaptation=worker.adaptation if worker else None,
                                 images=len(store.images),
                                 can_adapt=bool(worker) and not worker.exported))

    def worklist(request):
        served.set()
        return JSONResponse(dict(items=store.worklist(),
                                 progress=worker.progress() if worker else None))

    def view(name):
        """The image's record and measurements, and the landmark pairs of their lines."""
        from ..clinical import MEASUREMENT_LINES
        isbi = store.names == ISBI_KEYPOINTS
        return JSONResponse(dict(store.view(name), lines=sorted(
            {p for pairs in MEASUREMENT_LINES.values() for p in pairs}) if isbi else []))

    def image(request):
        return view(image_name(request))

    def pixels(request):
        """Made per request, as an uncompressed BMP: encoding is a copy (~20 ms for
        1935x2400, where PNG took ~450 ms on the 2-core machine), the browser decodes it
        at once, it is lossless, and nothing of the size of the images piles up on disk."""
        import cv2

        from ..imaging.image_io import ImageReadError, read_image, to_uint8_bgr
        name = image_name(request)
        try:
            img = to_uint8_bgr(read_image(store.image_path(name)).pixels)
        except ImageReadError as err:
            return error(404, str(err))
        return Response(cv2.imencode('.bmp', _grey_if_grey(img))[1].tobytes(),
                        media_type='image/bmp', headers=_private_cache())

    def thumb(request):
        """Small JPEGs, kept in REVIEW_DIR/cache (the input is never written)."""
        import cv2
        name = image_name(request)
        path = osp.join(store.work_dir, CACHE, 'thumbs', name + '.jpg')
        src = store.image_path(name)
        if not osp.isfile(path) or osp.getmtime(path) < osp.getmtime(src):
            from ..imaging.image_io import ImageReadError
            try:
                img = _thumbnail_pixels(src)
            except ImageReadError as err:
                return error(404, str(err))
            h, w = img.shape[:2]
            s = THUMB_SIZE / max(h, w)
            img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                             interpolation=cv2.INTER_AREA)
            write_atomic(path, cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1]
                         .tobytes())
        return FileResponse(path, headers=_private_cache())

    async def landmarks(request):
        name = image_name(request)
        data = await body(request)
        store.update(name, data.get('version'), data.get('points'), user)
        return view(name)

    async def measure(request):
        name = image_name(request)
        data = await body(request)
        rec = store.record(name)
        if rec is None:
            raise InvalidEdit(f'{name}: not predicted yet')
        points = store.check_points(rec, data.get('points'))
        return JSONResponse(dict(measurements=measurements(store.preview(rec, points, user),
                                                           points)))

    async def approve(request):
        name = image_name(request)
        data = await body(request)
        store.approve(name, data.get('version'), user)
        return view(name)

    def export(request):
        from .export import export_approved
        try:
            written = export_approved(store)
        except ValueError as err:
            raise InvalidEdit(str(err)) from None
        written['folder'] = osp.relpath(written['folder'], store.work_dir)
        return JSONResponse(written)

    def adapt(request):
        if worker is None:
            raise InvalidEdit('no model: adaptation is not available')
        if request.method == 'GET':
            return JSONResponse(worker.adaptation)
        try:
            return JSONResponse(worker.adapt(user))
        except ValueError as err:
            raise InvalidEdit(str(err)) from None

    def repredict(request):
        if worker is None:
            raise InvalidEdit('no model: re-predicting is not available')
        try:
            return JSONResponse(dict(queued=worker.repredict()))
        except ValueError as err:
            raise InvalidEdit(str(err)) from None

    def files(request):
        from .export import EXPORT_DIR
        rel = request.path_params['path']
        path = resolve_inside(osp.join(store.work_dir, EXPORT_DIR), rel)
        if not osp.isfile(path):
            return error(404, f'{rel}: no such file')
        return FileResponse(path)

    async def on_unsafe(request, exc):
        return error(400, f'refused: {exc}')

    async def on_invalid(request, exc):
        return error(400, str(exc))

    async def on_unknown(request, exc):
        return error(404, str(exc))

    async def on_conflict(request, exc):
        return error(409, str(exc))

    routes = [
        Route('/', index),
        Route('/api/state', state),
        Route('/api/worklist', worklist),
        Route('/api/image', image),
        Route('/api/pixels', pixels),
        Route('/api/thumb', thumb),
        Route('/api/landmarks', landmarks, methods=['PUT']),
        Route('/api/measure', measure, methods=['POST']),
        Route('/api/approve', approve, methods=['POST']),
        Route('/api/export', export, methods=['POST']),
        Route('/api/adapt', adapt, methods=['GET', 'POST']),
        Route('/api/repredict', repredict, methods=['POST']),
        Route('/files/{path:path}', files),
        Mount('/static', StaticFiles(directory=STATIC)),
    ]
    app = Starlette(routes=routes, exception_handlers={
        UnsafePath: on_unsafe, InvalidEdit: on_invalid, UnknownImage: on_unknown,
        Conflict: on_conflict})
    app.state.store, app.state.worker = store, worker
    return Guard(app, token, allowed_hosts)


def _no_constant(name):
    raise ValueError(f'{name} is not a number')


def _no_store():
    return {'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff',
            'X-Frame-Options': 'DENY'}


def _private_cache():
    return {'Cache-Control': 'private, max-age=3600'}


def _thumbnail_pixels(path):
    """The image for a thumbnail, uint8 BGR. A JPEG (8 bits: the model's intensity mapping
    is the identity) is decoded at 1/2 to 1/8 scale by libjpeg (PIL's draft mode, EXIF
    orientation applied as read_image does): the first worklist asks for dozens at once,
    and a full decode cost ~0.15 s each on the 2-core machine. Anything else goes through
    the model's reader."""
    import cv2
    import numpy as np
    from PIL import Image, ImageOps

    from ..imaging.image_io import read_image, to_uint8_bgr
    try:
        with Image.open(path) as im:
            if im.format == 'JPEG' and im.mode in ('L', 'RGB'):
                im.draft(im.mode, (THUMB_SIZE, THUMB_SIZE))
                a = np.asarray(ImageOps.exif_transpose(im))
                return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR if a.ndim == 2 else
                                    cv2.COLOR_RGB2BGR)
    except (OSError, ValueError, SyntaxError):
        pass                                   # the reader says what is wrong with it
    return to_uint8_bgr(read_image(path).pixels)


def _grey_if_grey(img):
    """A grey radiograph as one channel: a third of the bytes, the same pixels."""
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    if (b == g).all() and (g == r).all():
        return b
    return img


served = threading.Event()       # the first worklist went out: imports may compete now


def warm_up(store: Optional[ReviewStore] = None) -> None:
    """Read the worklist's rows while the browser loads the page; once the worklist is
    served (or after 3 s) import what the first opened image needs."""
    def work():
        if store is not None:
            store.worklist()
        served.wait(3)
        import cv2  # noqa: F401

        from .. import clinical  # noqa: F401
        from . import export  # noqa: F401
    threading.Thread(target=work, name='mmceph-warm-up', daemon=True).start()
