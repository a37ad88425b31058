"""Review and correct predicted landmarks in the browser; approve, export, adapt.

Serves a local web page (http://127.0.0.1:PORT/, printed at start) over IMAGES_DIR:
a worklist (what needs a human first: rejected, review, least confident), a viewer
(zoom, pan, window, landmarks and the measurements' lines), drag / arrow-key corrections
with undo, the 8 ISBI measurements recomputed on every move, approve, export of the
approved images (COCO JSON for tools/adapt.py --ann, measurements CSV, one-page reports)
and the site adaptation on them. Predictions run in the background and are cached in
REVIEW_DIR (tools/infer.py's JSON), as is every correction (saved at once, atomically).
IMAGES_DIR is only read. See README "Review and correct".

CHECKPOINT may be a folder exported by tools/deployment/export_onnx.py (ONNX Runtime;
no adaptation then).

Security: binds 127.0.0.1 unless --host says otherwise; any other host needs an access
token (--token, else one is generated and printed), and every request without it gets
401.

Examples:
    python tools/review.py CONFIG work_dirs/demo/best_MRE.pth data/synthetic/images \\
        --work review_demo --user dr_smith
    mim run mmceph review CONFIG CHECKPOINT IMAGES_DIR --work REVIEW_DIR
"""
import argparse
import os
import os.path as osp
import secrets
import socket
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='model config')
    p.add_argument('checkpoint', help='checkpoint (e.g. best_MRE.pth) or an exported ONNX '
                   'folder')
    p.add_argument('images', help='folder of images to review (searched recursively; never '
                   'written)')
    p.add_argument('--work', required=True, help='review folder: cached predictions, records, '
                   'exports (created if needed)')
    p.add_argument('--user', default=os.environ.get('USER') or 'reviewer',
                   help='name recorded with every correction and approval (default: $USER)')
    p.add_argument('--host', default='127.0.0.1', help='address to bind (default: '
                   '%(default)s; any other needs the access token)')
    p.add_argument('--port', type=int, default=8765, help='port (0: any free one; default: '
                   '%(default)s)')
    p.add_argument('--token', help='access token (default: none on 127.0.0.1, generated '
                   'otherwise)')
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    p.add_argument('--debug', action='store_true', help='show tracebacks of errors')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmceph.utils.cli import UsageError
    if not osp.isdir(args.images):
        raise UsageError(f'{args.images}: not a folder of images')
    if not osp.isdir(args.checkpoint) and not osp.isfile(args.config):
        raise UsageError(f'{args.config}: config not found')
    if not osp.exists(args.checkpoint):
        raise UsageError(f'{args.checkpoint}: checkpoint not found')
    if not args.user.strip():
        raise UsageError('--user must not be empty')
    os.environ.setdefault('OMP_NUM_THREADS', '1')      # keep the server responsive
    import uvicorn

    from mmceph.review.app import create_app, warm_up
    from mmceph.review.store import ReviewStore
    from mmceph.review.worker import PredictionWorker
    loopback = args.host in ('127.0.0.1', 'localhost', '::1')
    token = args.token or (None if loopback else secrets.token_urlsafe(24))
    os.makedirs(args.work, exist_ok=True)
    store = ReviewStore(args.images, args.work)
    if not store.images:
        raise UsageError(f'{args.images}: no supported image in this folder')
    family = socket.AF_INET6 if ':' in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as err:
        raise UsageError(f'--host {args.host} --port {args.port}: cannot listen there '
                         f'({err.strerror})') from None
    sock.listen(128)            # connections queue up from now on: the address works at once
    port = sock.getsockname()[1]
    shown = f'[{args.host}]' if ':' in args.host else args.host
    hosts = None
    if token is None:           # loopback without a token: refuse other Host headers
        hosts = [f'{h}:{port}' for h in ('127.0.0.1', 'localhost', '[::1]')]
    worker = PredictionWorker(store, args.config, args.checkpoint, args.device)
    worker.start()
    app = create_app(store, worker, args.user, token=token, allowed_hosts=hosts)
    warm_up(store)
    url = f'http://{shown}:{port}/' + (f'?token={token}' if token else '')
    print(f'mmceph review: {len(store.images)} image(s) of {args.images}, records in '
          f'{args.work}, user {args.user}', flush=True)
    print(f'open {url}', flush=True)
    config = uvicorn.Config(app, log_level='warning', access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
