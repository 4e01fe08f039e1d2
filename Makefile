# webrtc-session: build, demo, tests. `make demo` and `make test` are the two entry points.

CARGO   ?= cargo
CC      ?= cc
CXX     ?= c++
PREFIX  ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

LIB_A   := target/release/libwebrtc_session.a
LIB_SO  := target/release/libwebrtc_session.so
CFLAGS  ?= -O2 -g
WARN    := -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror
LIBS    := -lssl -lcrypto -lpthread -ldl -lm
EXAMPLES := build/loopback build/peer build/datachannel

.PHONY: all lib examples csharp nuget python-wheel demo test header install clean valgrind fuzz-smoke bench

all: lib examples

lib:
	$(CARGO) build --release --locked

$(LIB_A) $(LIB_SO): lib

build/%: examples-c/%.c examples-c/common.h examples-c/trickle.h include/webrtc_session.h $(LIB_A)
	@mkdir -p build
	$(CC) $(WARN) $(CFLAGS) -Iinclude $< $(LIB_A) $(LIBS) -o $@

# Same examples with AddressSanitizer on the C side.
build/asan-%: examples-c/%.c examples-c/common.h examples-c/trickle.h include/webrtc_session.h $(LIB_A)
	@mkdir -p build
	$(CC) $(WARN) -O1 -g -fsanitize=address -fno-omit-frame-pointer -Iinclude $< $(LIB_A) $(LIBS) -o $@

build/%-cpp: examples-c/%.cpp include/webrtc_session.hpp include/webrtc_session.h $(LIB_A)
	@mkdir -p build
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror $(CFLAGS) -Iinclude $< $(LIB_A) $(LIBS) -o $@

examples: lib $(EXAMPLES) build/loopback-cpp build/datachannel-cpp

# The C# binding, its tests and the walk-through example, with Mono's mcs (C# 7).
CS_SRC := $(wildcard bindings/csharp/src/*.cs)
build/csharp/WebRtcSession.dll: $(CS_SRC)
	@mkdir -p build/csharp
	mcs -langversion:7 -target:library -out:$@ $(CS_SRC)
build/csharp/%.exe: build/csharp/WebRtcSession.dll $(wildcard bindings/csharp/*/*.cs)
	mcs -langversion:7 -out:$@ -r:build/csharp/WebRtcSession.dll $(wildcard bindings/csharp/*/$*.cs)
csharp: lib build/csharp/Tests.exe build/csharp/WebRtcSessionExample.exe

# A NuGet package layout of the C# binding (not published from here): the assembly, the
# native library under runtimes/linux-x64/native, the nuspec.
nuget: lib build/csharp/WebRtcSession.dll
	cp $(LIB_SO) build/libwebrtc_session.stripped.so
	strip --strip-debug build/libwebrtc_session.stripped.so
	python3 scripts/nuget-pack.py $$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) \
		build/csharp/WebRtcSession.dll build/libwebrtc_session.stripped.so build/nuget

# A wheel of the Python binding that carries the built library.
python-wheel: lib
	cp $(LIB_SO) bindings/python/webrtc_session/
	strip --strip-debug bindings/python/webrtc_session/libwebrtc_session.so
	python3 -m pip wheel --no-deps -w build/wheels bindings/python
	rm bindings/python/webrtc_session/libwebrtc_session.so

# Two sessions in one process, media both ways for 3 s, with a report of what happened.
demo: examples
	./build/loopback 3

# Every test: Rust unit and integration tests, header drift, C examples (also under ASan and
# linked through pkg-config). Installs the system packages the tests need when missing.
test:
	./scripts/test.sh

# The loopback call under valgrind memcheck: no error, nothing definitely lost.
valgrind: build/loopback
	valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		./build/loopback 0.5

# Each fuzz target for FUZZ_SECONDS (default 20) from its seed corpus (needs cargo-fuzz).
FUZZ_SECONDS ?= 20
fuzz-smoke:
	./scripts/fuzz.sh $(FUZZ_SECONDS)

# Benchmarks (issue #6 baseline): library vs limit, table + build/bench.json. Not in `make test`.
build/bench: bench/bench.c bench/floor.h examples-c/common.h include/webrtc_session.h $(LIB_A)
	@mkdir -p build
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-deprecated-declarations -O2 -Iinclude $< $(LIB_A) $(LIBS) -o $@
build/limit: bench/limit.c bench/floor.h
	@mkdir -p build
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-deprecated-declarations -O2 $< -lcrypto -lpthread -o $@
bench: lib build/bench build/limit
	./scripts/bench.sh

# Regenerates include/webrtc_session.h with the pinned cbindgen.
header:
	WRS_UPDATE_HEADER=1 $(CARGO) test --release --locked --test header

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/webrtc_session.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' webrtc-session.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/webrtc-session.pc

clean:
	rm -rf build
	$(CARGO) clean
