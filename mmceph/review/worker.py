"""The slow parts of the review app, off the request path: predictions and adaptation.

:class:`PredictionWorker` predicts, in one background thread, every image of the
worklist that has no cached prediction (the page is usable meanwhile and shows the
progress), with the predictor ``tools/infer.py`` uses: :class:`mmceph.apis.LandmarkPredictor`
for a config and checkpoint, :class:`mmceph.runtime.OnnxLandmarkPredictor` for an exported
folder. :meth:`PredictionWorker.adapt` runs :func:`mmceph.apis.adaptation.adapt_checkpoint`
on the exported approved images and writes the adapted checkpoint beside the original.
"""
import datetime
import os
import os.path as osp
import threading
import traceback
from typing import Optional

from .store import ReviewStore

ADAPT_DIR = 'adapt'


def build_predictor(config: str, checkpoint: str, device: str = 'cpu'):
    """infer.py's predictor: ONNX Runtime for an exported folder, else PyTorch."""
    if osp.isdir(checkpoint):
        from ..runtime import OnnxLandmarkPredictor
        return OnnxLandmarkPredictor(checkpoint)
    from ..apis import LandmarkPredictor
    return LandmarkPredictor(config, checkpoint, device)


def adapted_name(checkpoint: str) -> str:
    """A new file beside ``checkpoint`` (never the checkpoint itself, never an existing
    file): ``NAME.site-YYYYmmdd-HHMMSS[-n].pth``."""
    stem = osp.splitext(checkpoint)[0]
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    out, n = f'{stem}.site-{stamp}.pth', 1
    while osp.exists(out):
        out, n = f'{stem}.site-{stamp}-{n}.pth', n + 1
    return out


class PredictionWorker:
    """One background thread that predicts what has no cached prediction."""

    def __init__(self, store: ReviewStore, config: str, checkpoint: str, device: str = 'cpu',
                 predictor=None):
        self.store, self.config, self.checkpoint, self.device = store, config, checkpoint, device
        self.predictor = predictor
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.queue = []
        self.state = dict(done=0, total=0, current=None, error=None, model=osp.basename(
            checkpoint.rstrip('/')), loading=False)
        self.adaptation = dict(state='idle')
        self.thread = None

    @property
    def exported(self) -> bool:
        return osp.isdir(self.checkpoint)

    def start(self) -> None:
        """Queue every image without a cached prediction and start the thread."""
        todo = [n for n in self.store.images if not self.store.has_prediction(n)]
        self.enqueue(todo)
        self.thread = threading.Thread(target=self._run, name='mmceph-predict', daemon=True)
        self.thread.start()

    def enqueue(self, names) -> None:
        with self.lock:
            fresh = [n for n in names if n not in self.queue]
            self.queue.extend(fresh)
            self.state['total'] += len(fresh)
        self.wake.set()

    def progress(self) -> dict:
        with self.lock:
            return dict(self.state, queued=len(self.queue))

    def _load(self):
        if self.predictor is None:
            self.state['loading'] = True
            try:
                self.predictor = build_predictor(self.config, self.checkpoint, self.device)
            finally:
                self.state['loading'] = False
        self.store.set_names(self.predictor.names)

    def _run(self):
        from ..imaging.image_io import ImageReadError
        while True:
            self.wake.wait()
            with self.lock:
                if not self.queue:
                    self.wake.clear()
                    continue
                name = self.queue[0]
                self.state['current'] = name
            try:
                self._load()
                result = self.predictor.predict(self.store.image_path(name))[0]
                self.store.save_prediction(name, result)
            except ImageReadError as err:
                self.store.mark_unreadable(name, str(err))
            except Exception as err:  # shown on the page; the thread goes on
                self.state['error'] = f'{name}: {type(err).__name__}: {err}'
                self.store.mark_unreadable(name, self.state['error'])
                traceback.print_exc()
            with self.lock:
                self.queue.pop(0)
                self.state['done'] += 1
                self.state['current'] = None

    # ------------------------------------------------------------------ adaptation
    def adapt(self, user: str) -> dict:
        """Start the site adaptation on the approved images (one at a time)."""
        from ..apis.adaptation import MIN_IMAGES
        if self.exported:
            raise ValueError('adaptation needs the PyTorch checkpoint (an exported ONNX folder '
                             'cannot be adapted); start the review with CONFIG CHECKPOINT')
        n = len(self.store.approved())
        if n < MIN_IMAGES:
            raise ValueError(f'adaptation needs at least {MIN_IMAGES} approved images, '
                             f'there are {n} (10 pay best)')
        with self.lock:
            if self.adaptation.get('state') == 'running':
                raise ValueError('an adaptation is already running')
            self.adaptation = dict(state='running', images=n, started=_now(), by=user)
        threading.Thread(target=self._adapt, name='mmceph-adapt', daemon=True).start()
        return dict(self.adaptation)

    def _adapt(self):
        from ..apis.adaptation import adapt_checkpoint
        from .export import export_approved
        try:
            folder = osp.join(self.store.work_dir, ADAPT_DIR)
            written = export_approved(self.store, folder, reports=False)
            ann = osp.join(self.store.work_dir, written['annotations'])
            out = adapted_name(self.checkpoint)
            record = adapt_checkpoint(self.config, self.checkpoint, ann, out,
                                      data_root=self.store.images_dir, img_prefix='',
                                      device=self.device)
            self.adaptation = dict(self.adaptation, state='done', checkpoint=out,
                                   leave_one_out=record['leave_one_out'],
                                   offsets_mm=record['offsets_mm'], finished=_now())
        except Exception as err:  # reported on the page
            traceback.print_exc()
            self.adaptation = dict(self.adaptation, state='failed',
                                   error=f'{type(err).__name__}: {err}', finished=_now())

    def repredict(self, checkpoint: Optional[str] = None) -> int:
        """Predict again, with the adapted checkpoint, every image nobody has touched
        (corrected and approved images keep their records); return how many."""
        checkpoint = checkpoint or self.adaptation.get('checkpoint')
        if not checkpoint or not osp.isfile(checkpoint):
            raise ValueError('no adapted checkpoint yet: adapt first')
        with self.lock:
            if self.queue:
                raise ValueError('predictions are still running; re-predict when they are done')
            self.checkpoint, self.predictor = checkpoint, None
            # the progress counts this run (the page shows "k / n" of the re-prediction)
            self.state.update(model=osp.basename(checkpoint), done=0, total=0, error=None)
        todo = [n for n in self.store.images if not self.store.has_record(n)]
        self.enqueue(todo)
        return len(todo)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def free_threads() -> None:
    """One thread for torch/OpenCV: the server stays responsive on a small machine."""
    os.environ.setdefault('OMP_NUM_THREADS', '1')
