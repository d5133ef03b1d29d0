#!/bin/sh
# Builds the addon (the sources binding.gyp compiles) with a sanitizer into its own folder, for
# test/native/worker_teardown_stress.js:
#   test/native/build-sanitized-addon.sh address /tmp/tce-asan   (or: thread /tmp/tce-tsan)
# Node itself is not instrumented, so the run preloads the runtime:
#   LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
#     TCE_STRESS_ADDON=/tmp/tce-asan/tce.node node --expose-gc test/native/worker_teardown_stress.js
set -eu
sanitizer=$1
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out/obj"
napi=$(cd "$root" && node -p "require('node-addon-api').include_dir")
nodeinc=$(dirname "$(command -v node)")/../include/node
flags="-std=c++17 -O1 -g -fno-omit-frame-pointer -fPIC -fsanitize=$sanitizer -I$root/$napi -I$nodeinc -I$root/native \
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -DUTF8PROC_STATIC"
cd "$root"
# An object is rebuilt when its source, any header or this script is newer than it.
newest=$(ls -t $(find native -name '*.h') "$0" | head -n 1)
find native/addon native/tokenizer native/engine -name '*.cc' | sort |
  xargs -P 2 -I{} sh -c 'obj="'"$out"'/obj/$(echo {} | tr / _).o"; { [ "$obj" -nt {} ] && [ "$obj" -nt '"$newest"' ]; } || g++ '"$flags"' -c {} -o "$obj"'
g++ -shared -fsanitize="$sanitizer" -o "$out/tce.node" "$out"/obj/*.o -l:libutf8proc.a -ldl -pthread -Wl,-z,nodelete
echo "$out/tce.node"
