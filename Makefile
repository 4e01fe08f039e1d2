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
EXAMPLES := build/loopback build/peer

.PHONY: all lib examples demo test header install clean

all: lib examples

lib:
	$(CARGO) build --release --locked

$(LIB_A) $(LIB_SO): lib

build/%: examples-c/%.c examples-c/common.h include/webrtc_session.h $(LIB_A)
	@mkdir -p build
	$(CC) $(WARN) $(CFLAGS) -Iinclude $< $(LIB_A) $(LIBS) -o $@

# Same examples with AddressSanitizer on the C side.
build/asan-%: examples-c/%.c examples-c/common.h include/webrtc_session.h $(LIB_A)
	@mkdir -p build
	$(CC) $(WARN) -O1 -g -fsanitize=address -fno-omit-frame-pointer -Iinclude $< $(LIB_A) $(LIBS) -o $@

examples: lib $(EXAMPLES)

# Two sessions in one process, media both ways for 3 s, with a report of what happened.
demo: examples
	./build/loopback 3

# Every test: Rust unit and integration tests, header drift, C examples (also under ASan and
# linked through pkg-config). Installs the system packages the tests need when missing.
test:
	./scripts/test.sh

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
