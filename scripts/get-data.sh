#!/usr/bin/env bash
# Downloads and unpacks a data set's official archive into DATA_DIR (default data/), checking
# the published MD5 before unpacking. Needs internet; the files then stay where the loaders look.
#   scripts/get-data.sh cifar10|cifar100|tinyimagenet [DATA_DIR]
# FaceScrub cannot be downloaded automatically (it is published as lists of image URLs); see
# README. Fashion-MNIST comes from Debian: apt-get install dataset-fashion-mnist.
set -euo pipefail

name=${1:-}
dir=${2:-data}
case "$name" in
  cifar10)      url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz;  md5=c32a1d4ab5d03f1284b67883e8d87530 ;;
  cifar100)     url=https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz; md5=03b5dce01913d631647c71ecec9e9cb8 ;;
  tinyimagenet) url=http://cs231n.stanford.edu/tiny-imagenet-200.zip;         md5=90528d7ca1a48142e341f4ef8d21d0de ;;
  *) echo "usage: $0 cifar10|cifar100|tinyimagenet [DATA_DIR]  (unknown data set '$name')" >&2; exit 2 ;;
esac

mkdir -p "$dir"
archive="$dir/$(basename "$url")"
if [ ! -f "$archive" ] || ! echo "$md5  $archive" | md5sum -c --quiet - 2>/dev/null; then
  echo "downloading $url"
  curl -fL --retry 3 -o "$archive.part" "$url" || { echo "download failed: $url (no internet here?)" >&2; exit 1; }
  mv "$archive.part" "$archive"
fi
echo "$md5  $archive" | md5sum -c --quiet - || { echo "$archive: MD5 mismatch, expected $md5; delete it and retry" >&2; exit 1; }
case "$archive" in
  *.tar.gz) tar -xzf "$archive" -C "$dir" ;;
  *.zip) unzip -q -o "$archive" -d "$dir" ;;
esac
echo "unpacked $name into $dir"
