#!/usr/bin/env python3
"""Generate benchmark data for bench/storage.sh (standard library only).

  gen_tree.py tree DIR --files N --dirs D --size BYTES [--seed S]
      N files of BYTES each, spread evenly over D directories DIR/d000/...
  gen_tree.py file PATH --size BYTES [--seed S]
      one file of BYTES

Content comes from a seeded PRNG: every file is distinct and incompressible,
so neither deduplication nor compression can make a tool look faster, and a
rerun with the same seed produces the same bytes.
"""

import argparse
import os
import random
import sys

CHUNK = 1 << 20


def gen_tree(root, files, dirs, size, seed):
    if files < 0 or dirs < 1 or size < 0:
        sys.exit("gen_tree.py: error: --files must be >= 0, --dirs >= 1, --size >= 0")
    rng = random.Random(seed)
    width_d = max(3, len(str(dirs - 1)))
    width_f = max(5, len(str(files - 1)))
    per_dir, extra = divmod(files, dirs)
    index = 0
    for d in range(dirs):
        sub = os.path.join(root, "d%0*d" % (width_d, d))
        os.makedirs(sub, exist_ok=True)
        for _ in range(per_dir + (1 if d < extra else 0)):
            name = os.path.join(sub, "f%0*d.bin" % (width_f, index))
            with open(name, "wb") as f:
                f.write(rng.randbytes(size))
            index += 1


def gen_file(path, size, seed):
    if size < 0:
        sys.exit("gen_tree.py: error: --size must be >= 0")
    rng = random.Random(seed)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["tree", "file"])
    p.add_argument("path")
    p.add_argument("--files", type=int, default=100000)
    p.add_argument("--dirs", type=int, default=200)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.kind == "tree":
        gen_tree(a.path, a.files, a.dirs, a.size, a.seed)
    else:
        gen_file(a.path, a.size, a.seed)


if __name__ == "__main__":
    main()
