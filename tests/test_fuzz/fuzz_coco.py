"""Fuzz helpers for the COCO keypoint JSON reader of the datasets: valid files and mutations."""
import json

from fuzz_common import mutate_bytes
from hypothesis import strategies as st

# --------------------------------------------------------------------------- COCO JSON
COCO_K = 19


@st.composite
def coco_valid(draw, k=COCO_K):
    """A well-formed annotation file as a dict (ids deliberately not 1..n)."""
    n = draw(st.integers(1, 3))
    images, annotations = [], []
    ids = draw(st.lists(st.integers(0, 10 ** 6), min_size=n, max_size=n, unique=True))
    for i, img_id in enumerate(ids):
        w, h = draw(st.integers(8, 400)), draw(st.integers(8, 400))
        spacing = draw(st.sampled_from([None, [0.1, 0.1], [0.1, 0.125], 'absent']))
        img = dict(id=img_id, file_name=f'images/{i}.png', width=w, height=h)
        if spacing != 'absent':
            img['pixel_spacing'] = spacing
        images.append(img)
        kpts = []
        for j in range(k):
            if draw(st.integers(0, 5)) == 0 and j:      # keypoint 1 always labelled
                kpts += [0, 0, 0]
            else:
                kpts += [draw(st.integers(0, w - 1)) + 0.5, draw(st.integers(0, h - 1)),
                         draw(st.sampled_from([1, 2]))]
        ann = dict(id=draw(st.integers(0, 10 ** 6)) * 10 + i, image_id=img_id, category_id=1,
                   keypoints=kpts, bbox=[0.0, 0.0, float(w), float(h)],
                   num_keypoints=sum(1 for v in kpts[2::3] if v))
        if draw(st.booleans()):
            ann['area'] = float(w * h)
        if draw(st.booleans()):
            ann['iscrowd'] = 0
        annotations.append(ann)
    cat = dict(id=1, name='cephalogram', supercategory='cephalogram')
    if draw(st.booleans()):
        cat['keypoints'] = [f'p{i}' for i in range(k)]
    return dict(info=dict(description='fuzz'), images=images, annotations=annotations,
                categories=[cat])


def _json_containers(children):
    return st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children,
                                                            max_size=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
    | st.sampled_from([10 ** 400, -1, 0, 0.0, '', '1']),
    _json_containers, max_leaves=8)


def json_paths(obj, prefix=()):
    """Every path (tuple of keys/indices) inside ``obj``, the root included."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from json_paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from json_paths(value, prefix + (i,))


def _parent(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def coco_file(draw, k=COCO_K):
    """``(bytes, valid)``: a JSON file and whether it was left well-formed."""
    import copy
    doc = draw(coco_valid(k))
    n_mutations = draw(st.integers(0, 3))
    if n_mutations == 0:
        return json.dumps(doc).encode(), True
    doc = copy.deepcopy(doc)
    targeted = [
        ('keypoints_length', lambda a: a['keypoints'].__setitem__(
            slice(None), a['keypoints'][:draw(st.sampled_from([0, 3, 54, 56]))]
            + [0] * draw(st.sampled_from([0, 1, 3])))),
        ('bbox_negative', lambda a: a['bbox'].__setitem__(draw(st.integers(2, 3)),
                                                          draw(st.sampled_from([0, -1, -0.0])))),
        ('image_id', lambda a: a.__setitem__('image_id', draw(st.sampled_from(
            [-1, 10 ** 7 + 1, '1', 1.0, None, True])))),
        ('visibility', lambda a: a['keypoints'].__setitem__(
            3 * draw(st.integers(0, k - 1)) + 2, draw(st.sampled_from([3, -1, 0.5, '2', None])))),
        ('keypoint_value', lambda a: a['keypoints'].__setitem__(
            draw(st.integers(0, 3 * k - 1)), draw(st.sampled_from(
                [float('nan'), float('inf'), '1', None, [1], 10 ** 400, True, 1e300, -1e39,
                 3e38])))),
    ]
    for _ in range(n_mutations):
        kind = draw(st.sampled_from(['delete', 'replace', 'append', 'targeted', 'targeted',
                                     'duplicate_id', 'categories', 'spacing', 'random']))
        paths = [p for p in json_paths(doc) if p]
        if kind == 'random':
            doc = draw(json_values)
        elif kind in ('delete', 'replace') and paths:
            path = draw(st.sampled_from(paths))
            parent = _parent(doc, path)
            if kind == 'delete':
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(json_values)
        elif kind == 'append' and paths:
            lists = [p for p in json_paths(doc) if isinstance(_parent(doc, p + (0,)), list)]
            if lists:
                target = _parent(doc, draw(st.sampled_from(lists)) + (0,))
                target.append(draw(json_values))
        elif kind == 'targeted' and isinstance(doc, dict) and doc.get('annotations'):
            ann = doc['annotations'][draw(st.integers(0, len(doc['annotations']) - 1))]
            if isinstance(ann, dict) and isinstance(ann.get('keypoints'), list) \
                    and len(ann['keypoints']) == 3 * k and isinstance(ann.get('bbox'), list):
                name, apply = draw(st.sampled_from(targeted))
                apply(ann)
        elif kind == 'duplicate_id' and isinstance(doc, dict):
            for key in ('images', 'annotations'):
                items = doc.get(key)
                if isinstance(items, list) and items and isinstance(items[0], dict):
                    items.append(dict(items[0]))
        elif kind == 'categories' and isinstance(doc, dict):
            doc['categories'] = draw(st.sampled_from([[], [dict(id=1), dict(id=2)], [dict(id='1')],
                                                      [dict(id=1, keypoints=['a'])], {}, None]))
        elif kind == 'spacing' and isinstance(doc, dict) and doc.get('images'):
            img = doc['images'][0]
            if isinstance(img, dict):
                img['pixel_spacing'] = draw(st.sampled_from(
                    [[0, 0.1], [-0.1, 0.1], [0.1], [0.1, 0.1, 0.1], 0.1, '0.1', [None, None],
                     [float('nan'), 0.1], ['0.1', '0.1'], [True, True]]))
    text = json.dumps(doc, allow_nan=True)
    how = draw(st.sampled_from(['plain'] * 6 + ['bom', 'latin1', 'truncate', 'bytes']))
    data = text.encode()
    if how == 'bom':
        data = b'\xef\xbb\xbf' + data
    elif how == 'latin1':
        data = data.replace(b'images/', 'imagés/'.encode('latin-1'), 1)
    elif how == 'truncate':
        data = data[:draw(st.integers(0, max(0, len(data) - 1)))]
    elif how == 'bytes':
        data = mutate_bytes(draw, data)
    return data, None
