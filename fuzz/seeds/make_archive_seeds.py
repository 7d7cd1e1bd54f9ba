#!/usr/bin/env python3
"""Writes small, valid docker-archive and oci-archive tars as seeds for the
docker_archive and oci_archive fuzz targets (deterministic output).

    python3 fuzz/seeds/make_archive_seeds.py fuzz/corpus
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path


def sha(b):
    return hashlib.sha256(b).hexdigest()


def trim(data):
    """Drops tarfile's padding to a 10 KiB record, keeping the two zero
    blocks that end an archive: smaller seeds, faster fuzzing."""
    end = len(data.rstrip(b"\0"))
    end = (end + 511) // 512 * 512
    return data[:end] + b"\0" * 1024


def layer_tar(content):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        t.addfile(info, io.BytesIO(content))
    return trim(buf.getvalue())


def gz(data):
    return gzip.compress(data, mtime=0)


def archive(entries, fmt=tarfile.USTAR_FORMAT):
    """entries: (name, bytes) for files, (name, ('sym'|'hard', target)) for links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, value in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if isinstance(value, tuple):
                info.type = tarfile.SYMTYPE if value[0] == "sym" else tarfile.LNKTYPE
                info.linkname = value[1]
                t.addfile(info)
            else:
                info.size = len(value)
                t.addfile(info, io.BytesIO(value))
    return trim(buf.getvalue())


def config(diff_ids):
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diff_ids]},
        },
        separators=(",", ":"),
    ).encode()


def docker_seeds():
    l1, l2 = layer_tar(b"one\n"), layer_tar(b"two\n")
    cfg = config([sha(l1), sha(l2)])
    cfg_name = sha(cfg) + ".json"
    seeds = {}
    # docker 25+: blobs/sha256/<hex>
    man = [{"Config": "blobs/sha256/" + sha(cfg), "RepoTags": ["app:v1", "localhost:5000/x/app:latest"],
            "Layers": ["blobs/sha256/" + sha(l1), "blobs/sha256/" + sha(l2)]}]
    seeds["docker25"] = archive([
        ("manifest.json", json.dumps(man).encode()),
        ("blobs/sha256/" + sha(cfg), cfg),
        ("blobs/sha256/" + sha(l1), l1),
        ("blobs/sha256/" + sha(l2), l2),
    ])
    # classic: <id>/layer.tar, the second layer a symlink to a shared one
    man = [{"Config": cfg_name, "RepoTags": None, "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"]}]
    seeds["classic-symlink"] = archive([
        ("manifest.json", json.dumps(man).encode()),
        (cfg_name, cfg),
        ("aaaa/layer.tar", l1),
        ("shared/layer.tar", l2),
        ("bbbb/layer.tar", ("sym", "../shared/layer.tar")),
    ])
    # gzip layer, hard link, two images (ambiguous without a name)
    g = gz(layer_tar(b"zip\n"))
    cfg_g = config([sha(layer_tar(b"zip\n"))])
    man = [
        {"Config": "c1.json", "RepoTags": ["one:1"], "Layers": ["g.tar.gz"]},
        {"Config": "c2.json", "RepoTags": ["two:2"], "Layers": ["l.tar"]},
    ]
    cfg1 = config([sha(l1)])
    seeds["gzip-hardlink-two-images"] = archive([
        ("manifest.json", json.dumps(man).encode()),
        ("c1.json", cfg_g),
        ("c2.json", cfg1),
        ("g.tar.gz", g),
        ("orig.tar", l1),
        ("l.tar", ("hard", "orig.tar")),
    ])
    # pax headers (long names) and a link loop
    long = "d" * 120 + "/layer.tar"
    man = [{"Config": "cfg.json", "RepoTags": ["long:x"], "Layers": [long, "loop/layer.tar"]}]
    seeds["pax-loop"] = archive([
        ("manifest.json", json.dumps(man).encode()),
        ("cfg.json", config([sha(l1), sha(l2)])),
        (long, l1),
        ("loop/layer.tar", ("sym", "layer.tar")),
    ], fmt=tarfile.PAX_FORMAT)
    return seeds


def oci_seeds():
    seeds = {}
    layout = b'{"imageLayoutVersion":"1.0.0"}'
    l1 = gz(layer_tar(b"oci\n"))
    cfg = config([sha(layer_tar(b"oci\n"))])

    def manifest(cfg, layers, extra=None):
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": "sha256:" + sha(cfg), "size": len(cfg)},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                         "digest": "sha256:" + sha(l), "size": len(l)} for l in layers]}
        m.update(extra or {})
        return json.dumps(m, separators=(",", ":")).encode()

    m = manifest(cfg, [l1])
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(m),
            "size": len(m), "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    seeds["image"] = archive([
        ("oci-layout", layout),
        ("index.json", json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()),
        ("blobs/sha256/" + sha(m), m),
        ("blobs/sha256/" + sha(cfg), cfg),
        ("blobs/sha256/" + sha(l1), l1),
    ])
    # an index of two platforms, a referrer with a subject, tags, a symlinked blob
    cfg2 = config([])
    m2 = manifest(cfg2, [], {"subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                          "digest": "sha256:" + sha(m), "size": len(m)},
                             "artifactType": "application/example"})
    idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": [
                          {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(m),
                           "size": len(m), "platform": {"os": "linux", "architecture": "amd64"}},
                          {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(m2),
                           "size": len(m2), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                      ]}, separators=(",", ":")).encode()
    top = [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + sha(idx), "size": len(idx),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(m), "size": len(m),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}},
    ]
    seeds["index-referrer-symlink"] = archive([
        ("./oci-layout", layout),
        ("./index.json", json.dumps({"schemaVersion": 2, "manifests": top}).encode()),
        ("./blobs/sha256/" + sha(idx), idx),
        ("./blobs/sha256/" + sha(m), m),
        ("./blobs/sha256/" + sha(m2), m2),
        ("./blobs/sha256/" + sha(cfg2), cfg2),
        ("./store/cfg", cfg),
        ("./blobs/sha256/" + sha(cfg), ("sym", "../../store/cfg")),
        ("./blobs/sha256/" + sha(l1), l1),
    ])
    return seeds


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus")
    for target, seeds in (("docker_archive", docker_seeds()), ("oci_archive", oci_seeds())):
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (d / f"seed-{name}.tar").write_bytes(data)
            print(f"{d / ('seed-' + name + '.tar')}: {len(data)} bytes")


if __name__ == "__main__":
    main()
