#!/usr/bin/env python3
"""Greedy edge cover over a libFuzzer merge control file: copies at most LIMIT
inputs that together cover the most edges (cmin keeps every input with a
new feature, hundreds per target; the committed corpus stays a few dozen).

    python3 seeds/pick_corpus.py CONTROL_FILE OUT_DIR LIMIT
"""
import sys, shutil, os
ctl, outdir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
files, cov = [], {}
cur = None
for line in open(ctl, errors="replace"):
    p = line.split()
    if not p: continue
    if len(files) == 0 and p[0].isdigit():
        # header: number of files, number of files in first corpus, then file names
        pass
    if p[0] == "STARTED": cur = int(p[1])
    elif p[0] == "COV": cov[int(p[1])] = set(p[2:])
lines = open(ctl, errors="replace").read().split("\n")
n = int(lines[0]); names = lines[2:2+n]
allc = set().union(*cov.values()) if cov else set()
chosen, covered = [], set()
while len(chosen) < limit:
    best = max(cov, key=lambda i: (len(cov[i] - covered), -os.path.getsize(names[i])), default=None)
    if best is None or not (cov[best] - covered): break
    chosen.append(best); covered |= cov.pop(best)
os.makedirs(outdir, exist_ok=True)
for i in chosen:
    shutil.copy(names[i], outdir)
print(f"{len(chosen)} files cover {len(covered)}/{len(allc)} edges")
