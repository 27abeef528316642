#!/usr/bin/env bash
# Builds Skiff's own container images (images/README.md) with no registry: static Rust programs
# in images `FROM scratch`, plus Debian's busybox-static for the toolbox's shell.
#
#   scripts/images.sh          build the images whose sources changed (`make images`)
#   scripts/images.sh test     run the unit tests of the programs in images/ (`make test`)
#   scripts/images.sh list     print the image names, one a line
#
# An image is up to date when its label `skiff.source-hash` equals the hash of what it is built
# from (its crate and Dockerfile, the images workspace's Cargo files, this script, the Rust
# version, and busybox for the toolbox). Then nothing is built and nothing is printed, so
# `make test` and `make up` can depend on this at no cost.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
TARGET_DIR=$PWD/images/target
# The legacy builder: Docker 20.10 has no buildx, and `FROM scratch` needs nothing from a
# registry with it.
export DOCKER_BUILDKIT=0
# The busybox the toolbox is made of: Debian's busybox-static, one static binary.
BUSYBOX=${BUSYBOX:-/bin/busybox}
HASH_LABEL=skiff.source-hash

PAUSE=skiff/pause:1
TOOLBOX=skiff/toolbox:1
DEMO_WEB_VERSIONS=(v1 v2 v3)

all_images() {
  echo "$PAUSE"
  for version in "${DEMO_WEB_VERSIONS[@]}"; do echo "skiff/demo-web:$version"; done
  echo "$TOOLBOX"
}

# The hash of the files under the given paths (names and contents) and of any extra words.
hash_of() {
  local words=$1
  shift
  {
    echo "$words"
    rustc -V
    find images/Cargo.toml images/Cargo.lock scripts/images.sh "$@" -type f -not -path '*/target/*' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}

source_hash() {
  case $1 in
    "$PAUSE") hash_of "" images/pause ;;
    skiff/demo-web:*) hash_of "${1#skiff/demo-web:}" images/demo-web ;;
    "$TOOLBOX") hash_of "$(sha256sum <"$BUSYBOX")" images/wget images/toolbox ;;
  esac
}

built_hash() {
  docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

# Debian's busybox-static, installed if we may (CI runs as root on Debian), else a clear stop.
ensure_busybox() {
  [[ $BUSYBOX != /bin/busybox ]] && return
  if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    return
  fi
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "images: installing Debian's busybox-static for skiff/toolbox"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
    return
  fi
  echo "images: skiff/toolbox needs Debian's busybox-static (a static /bin/busybox):" >&2
  echo "  sudo apt-get install busybox-static    (or BUSYBOX=/path/to/static/busybox)" >&2
  exit 1
}

# Builds the static binary of one package; prints its path. Static glibc (`crt-static`) is
# what lets the binary run in an image with no C library; `--target` keeps the flag away from
# build scripts and proc macros, which must stay dynamic.
static_binary() {
  local package=$1 binary=$2 triple
  triple=$(rustc -vV | sed -n 's/^host: //p')
  RUSTFLAGS='-C target-feature=+crt-static' "$CARGO" build --quiet --release --locked \
    --manifest-path images/Cargo.toml --target-dir "$TARGET_DIR" --target "$triple" -p "$package"
  echo "$TARGET_DIR/$triple/release/$binary"
}

# Lays out the toolbox's root file system in $1: busybox with a symlink per applet where a
# Debian system would have it (`--list-full`), Skiff's wget instead of busybox's, /etc files.
#
# busybox's shell runs its own applets even when a program of the same name comes first in
# PATH (it is built with FEATURE_SH_STANDALONE), so a `wget` file alone would lose to the
# crashing applet in `sh -c 'wget …'`. The applet is therefore renamed `wge_` in the copy of
# busybox (one byte of its sorted name table, so lookups still work), and `wget` is ours
# everywhere: in PATH, in the shell, and through `env`, `xargs` and `timeout`.
toolbox_rootfs() {
  local root=$1 wget_binary=$2 applet
  mkdir -p "$root"
  cp -R images/toolbox/rootfs/. "$root/"
  mkdir -p "$root/bin" "$root/tmp" "$root/root"
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  perl -0777 -pe 'my $n = s/\0wc\0wget\0which\0/\0wc\0wge_\0which\0/g;
    die "images: expected busybox to name its wget applet once, found $n\n" if $n != 1' \
    "$BUSYBOX" >"$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  while read -r applet; do
    # busybox itself is there; `linuxrc` (an initrd's init) would only litter the root.
    [[ $applet == bin/busybox || $applet == linuxrc ]] && continue
    mkdir -p "$root/$(dirname "$applet")"
    if [[ $(basename "$applet") == wget ]]; then
      cp "$wget_binary" "$root/$applet"
    else
      ln -sf /bin/busybox "$root/$applet"
    fi
  done < <("$BUSYBOX" --list-full)
  [[ -x $root/usr/bin/wget ]] || { echo "images: busybox lists no usr/bin/wget applet to replace" >&2; exit 1; }
}

# Builds one image from a context directory holding its Dockerfile; stays quiet unless it fails.
# The image it replaces is removed if nothing else uses it, so rebuilds leave no <none> images
# behind (`docker rmi` refuses while a container still runs it, which is fine).
docker_build() {
  local image=$1 context=$2 hash=$3 log old
  old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  log=$(mktemp)
  if ! docker build --quiet --label "$HASH_LABEL=$hash" --tag "$image" "$context" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "images: building $image failed" >&2
    exit 1
  fi
  rm -f "$log"
  if [[ -n $old && $old != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
  echo "images: built $image ($(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=iec)B)"
}

build_image() {
  local image=$1 hash=$2 context="$TARGET_DIR/context/${1//[\/:]/-}"
  rm -rf "$context"
  mkdir -p "$context"
  case $image in
    "$PAUSE")
      cp "$(static_binary skiff-pause pause)" "$context/pause"
      cp images/pause/Dockerfile "$context/"
      ;;
    skiff/demo-web:*)
      # The version is baked in at compile time (`option_env!`); cargo recompiles the crate
      # when the variable changes, so the three builds share everything else.
      cp "$(DEMO_WEB_VERSION=${image#skiff/demo-web:} static_binary skiff-demo-web demo-web)" "$context/demo-web"
      cp images/demo-web/Dockerfile "$context/"
      ;;
    "$TOOLBOX")
      toolbox_rootfs "$context/rootfs" "$(static_binary skiff-wget wget)"
      cp images/toolbox/Dockerfile "$context/"
      ;;
  esac
  docker_build "$image" "$context" "$hash"
}

build() {
  local image hash stale=()
  if ! docker version >/dev/null 2>&1; then
    echo "images: Docker is not reachable (is dockerd running, and may this user use it?)" >&2
    exit 1
  fi
  mkdir -p "$TARGET_DIR"
  # One build at a time: test binaries and `make` may all ask at once.
  exec 9>"$TARGET_DIR/images.lock"
  flock 9
  ensure_busybox
  for image in $(all_images); do
    hash=$(source_hash "$image")
    [[ $(built_hash "$image") == "$hash" ]] || stale+=("$image=$hash")
  done
  for entry in "${stale[@]}"; do
    build_image "${entry%=*}" "${entry##*=}"
  done
}

case ${1:-build} in
  build) build ;;
  test) exec "$CARGO" test --quiet --locked --manifest-path images/Cargo.toml --target-dir "$TARGET_DIR" --workspace ;;
  list) all_images ;;
  *)
    echo "usage: $0 [build|test|list]" >&2
    exit 2
    ;;
esac
