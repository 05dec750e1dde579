#!/usr/bin/python3
"""Turns the official FaceScrub lists and the images a user has downloaded into the layout mfd's
loader reads: OUT/<identity>/<face_id>.png, each the face box cropped from its image.

  scripts/prepare-facescrub.py --lists facescrub_actors.txt facescrub_actresses.txt \\
      --images downloads/ --out data/facescrub [--download] [--log prepare-facescrub.log]

The lists (from vintage.winklerbros.net/facescrub.html) are tab-separated with a header:
name, image_id, face_id, url, bbox (x1,y1,x2,y2), sha256. The image of face F is looked for as
IMAGES/F.* ; with --download (where there is internet) a missing one is fetched from its url into
IMAGES first. A file whose SHA-256 differs from the list's, that cannot be decoded, or whose box
lies outside it is skipped; every such failure is logged with the face id, the name and the
reason, and the counts are printed at the end.
"""
import argparse
import csv
import glob
import hashlib
import os
import sys
import urllib.request

from PIL import Image


def find_image(images, face_id):
    found = sorted(glob.glob(os.path.join(images, face_id + ".*")))
    return found[0] if found else None


def download(url, images, face_id):
    ext = os.path.splitext(url.split("?")[0])[1].lower() or ".jpg"
    path = os.path.join(images, face_id + ext)
    with urllib.request.urlopen(url, timeout=20) as r, open(path, "wb") as f:
        f.write(r.read())
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", nargs="+", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--download", action="store_true")
    ap.add_argument("--log", default="prepare-facescrub.log")
    args = ap.parse_args()
    os.makedirs(args.images, exist_ok=True)
    done, failures = 0, []
    for list_path in args.lists:
        with open(list_path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                name, face_id = row["name"].strip(), row["face_id"].strip()
                try:
                    path = find_image(args.images, face_id)
                    if path is None and args.download:
                        path = download(row["url"], args.images, face_id)
                    if path is None:
                        raise ValueError("image not found as %s/%s.*" % (args.images, face_id))
                    sha = (row.get("sha256") or "").strip()
                    if sha:
                        with open(path, "rb") as img:
                            if hashlib.sha256(img.read()).hexdigest() != sha:
                                raise ValueError("SHA-256 differs from the list's (a changed or wrong image)")
                    x1, y1, x2, y2 = (int(v) for v in row["bbox"].split(","))
                    with Image.open(path) as img:
                        if not (0 <= x1 < x2 <= img.width and 0 <= y1 < y2 <= img.height):
                            raise ValueError("face box %s outside the %dx%d image" % (row["bbox"], img.width, img.height))
                        face = img.convert("RGB").crop((x1, y1, x2, y2))
                    folder = os.path.join(args.out, name.replace(" ", "_"))
                    os.makedirs(folder, exist_ok=True)
                    face.save(os.path.join(folder, face_id + ".png"))
                    done += 1
                except Exception as e:  # every failure is logged, none stops the run
                    failures.append("%s\t%s\t%s" % (face_id, name, e))
    with open(args.log, "w") as log:
        log.write("\n".join(failures) + ("\n" if failures else ""))
    print("prepare-facescrub: %d faces written to %s, %d failures logged in %s"
          % (done, args.out, len(failures), args.log))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
