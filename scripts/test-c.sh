#!/usr/bin/env bash
# Builds the C examples with -Wall -Wextra -Wpedantic -Werror and runs them as tests: the
# loopback call, the two-process call, the loopback call under AddressSanitizer, the header
# as C99 and C++17, and a build through the installed pkg-config file.
set -uo pipefail
cd "$(dirname "$0")/.."

mkdir -p build
passed=0
failed=0
run() {
    local name=$1
    shift
    local log
    log=$(mktemp)
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        sed 's/^/     | /' "$log"
    fi
    rm -f "$log"
}

if ! make -s lib examples build/asan-loopback build/asan-datachannel >build/make.log 2>&1; then
    cat build/make.log
    echo "0 passed, 1 failed"
    exit 1
fi

header_c99() {
    printf '#include "webrtc_session.h"\nint main(void) { return wrs_version() == 0; }\n' > build/header.c
    ${CC:-cc} -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude -c build/header.c -o build/header-c.o
}
header_cxx() {
    ${CXX:-c++} -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude -x c++ -c build/header.c -o build/header-cxx.o
}
two_processes() {
    local d rc_offer rc_answer
    d=$(mktemp -d)
    ./build/peer offer "$d/offer.sdp" "$d/answer.sdp" 1 &
    local pid=$!
    ./build/peer answer "$d/offer.sdp" "$d/answer.sdp" 1
    rc_answer=$?
    wait "$pid"
    rc_offer=$?
    rm -rf "$d"
    [ "$rc_offer" = 0 ] && [ "$rc_answer" = 0 ]
}
pkg_config_build() {
    local d
    d=$(mktemp -d)
    make -s install PREFIX="$d" >/dev/null &&
        ${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror examples-c/loopback.c \
            $(PKG_CONFIG_PATH="$d/lib/pkgconfig" pkg-config --cflags --libs webrtc-session) -o "$d/loopback" &&
        LD_LIBRARY_PATH="$d/lib" "$d/loopback" 0.5
    local rc=$?
    rm -rf "$d"
    return $rc
}

run "header compiles as C99" header_c99
run "header compiles as C++17" header_cxx
run "loopback.c: two sessions, media both ways" ./build/loopback 1.5
run "peer.c: offerer and answerer in two processes" two_processes
run "loopback.cpp (C++17, RAII wrapper): two sessions, media both ways" ./build/loopback-cpp
run "loopback.c under AddressSanitizer" env ASAN_OPTIONS=detect_leaks=1 ./build/asan-loopback 1
run "datachannel.c: a data-only call, 1,000 echoed messages, 256 KB, handle errors" ./build/datachannel
run "datachannel.cpp (C++17, RAII wrapper): data channel echo" ./build/datachannel-cpp
run "datachannel.c under AddressSanitizer" env ASAN_OPTIONS=detect_leaks=1 ./build/asan-datachannel
run "loopback.c under valgrind memcheck (0 errors, 0 definitely lost)" make -s valgrind
run "loopback.c linked through pkg-config (shared library)" pkg_config_build

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
