# fimguard. `make` builds, `make test` runs every test, `make run` starts
# it on the default policy. `make deps` installs what a fresh Debian 12
# machine lacks; test and run call it first.

CC	?= cc
PKGS	 = libcap-ng libxxhash openssl json-c libcurl
CFLAGS	?= -O2 -g
WARN	 = -std=c11 -Wall -Wextra -Wshadow -Wpointer-arith -Wformat=2 \
	   -Wstrict-prototypes -Wmissing-prototypes -Wvla
HARDEN	 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	   -fstack-clash-protection -fcf-protection -fPIE
LDHARDEN = -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--as-needed
ifdef CI
WARN	+= -Werror
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(HARDEN) -Iinclude $(PKG_CFLAGS) -pthread $(CFLAGS)
LIBS	 = $(PKG_LIBS) -pthread

SRCS	 = $(wildcard src/*.c)
LIBSRCS	 = $(filter-out src/main.c,$(SRCS))
B	 = build
OBJS	 = $(LIBSRCS:src/%.c=$(B)/%.o)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
FUZZ_NAMES = conf baseline
FUZZ_REPLAYS = $(FUZZ_NAMES:%=$(B)/tests/replay_%)

PYTHON	 = /usr/bin/python3
PYTEST	 = $(PYTHON) -m pytest -q -p no:cacheprovider

# Debian packages: to build, to test, to benchmark.
BUILD_DEPS = build-essential pkg-config libcap-ng-dev libxxhash-dev \
	     libssl-dev libjson-c-dev libcurl4-openssl-dev
TEST_DEPS  = libcmocka-dev python3 python3-pytest python3-aiosmtpd \
	     util-linux attr acl cppcheck patch liburing-dev
BENCH_DEPS = aide xxhash time

PREFIX	?= /usr/local
SYSCONFDIR ?= /etc

.PHONY: all deps deps-test test unit integration asan lint bench run \
	install fuzz clean

all: fimguard

$(B)/%.o: src/%.c $(wildcard include/*.h) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

fimguard: $(OBJS) $(B)/main.o
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $^ $(LIBS) $(LDFLAGS)

$(B):
	mkdir -p $(B)/tests

$(B)/tests/%: tests/unit/%.c $(OBJS) | $(B)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $< $(OBJS) $(LIBS) -lcmocka

# A fuzz target with a plain main() that replays its corpus, so every
# input the fuzzers found interesting stays a regression test (gcc).
$(B)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
    tests/fuzz/fuzz.h $(OBJS) | $(B)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz $(LDHARDEN) -o $@ \
	    tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(OBJS) $(LIBS)

# Installs only what is missing, so repeated runs cost nothing.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p \
	    2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

deps-test: deps
	$(call apt_install,$(TEST_DEPS))

unit: $(UNIT_BINS) $(FUZZ_REPLAYS)
	@for t in $(UNIT_BINS); do echo "== $$t"; $$t || exit 1; done
	@for f in $(FUZZ_NAMES); do echo "== replay $$f"; \
	    $(B)/tests/replay_$$f tests/fuzz/corpus_$$f || exit 1; done

integration: fimguard
	FIMGUARD=$(CURDIR)/fimguard $(PYTEST) tests/integration

test: deps-test
	$(MAKE) all unit
	$(MAKE) integration

# Sanitizers: the whole suite again against an ASan+UBSan build.
asan: deps-test
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined \
	    -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    HARDEN= LDHARDEN= fimguard-asan unit

fimguard-asan: $(OBJS) $(B)/main.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
	FIMGUARD=$(CURDIR)/fimguard-asan $(PYTEST) tests/integration

lint: deps-test
	cppcheck --quiet --error-exitcode=1 --inline-suppr \
	    --enable=warning,performance,portability \
	    --suppress=missingIncludeSystem -Iinclude -Itests/fuzz \
	    src tests/unit tests/fuzz

# Coverage-guided fuzzing with clang's libFuzzer (tests/fuzz/README.md).
fuzz:
	$(call apt_install,clang)
	$(MAKE) -f tests/fuzz/Makefile run

bench: all
	$(call apt_install,$(BENCH_DEPS))
	bash tests/bench/run.sh
	bash tests/bench/monitor.sh

# `run`: a baseline of the default policy in a local state directory
# (first time only), a check against it, then the real-time monitor in
# audit mode in the foreground, events on the console. Ctrl-C stops it.
RUN_DIR = .run
run: deps
	$(MAKE) all
	@mkdir -p $(RUN_DIR)
	@sed 's|^events *=.*|events = $(CURDIR)/$(RUN_DIR)/events.json|' \
	    policy/fimguard.conf > $(RUN_DIR)/fimguard.conf
	@[ -f $(RUN_DIR)/state/baseline.json ] || ./fimguard \
	    -c $(RUN_DIR)/fimguard.conf -p policy -s $(RUN_DIR)/state init
	./fimguard -c $(RUN_DIR)/fimguard.conf -p policy \
	    -s $(RUN_DIR)/state check || [ $$? -eq 1 ]
	./fimguard -c $(RUN_DIR)/fimguard.conf -p policy \
	    -s $(RUN_DIR)/state run --mode audit --foreground

# Never overwrites an existing config or policy file: they are the
# administrator's (the packages mark them as conffiles).
install: all
	install -D -m 0755 fimguard $(DESTDIR)$(PREFIX)/sbin/fimguard
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/fimguard/policy.d
	install -d -m 0700 $(DESTDIR)/var/lib/fimguard
	@for f in policy/*.rules; do \
	    d=$(DESTDIR)$(SYSCONFDIR)/fimguard/policy.d/$$(basename $$f); \
	    [ -e $$d ] || install -m 0644 $$f $$d; done
	@d=$(DESTDIR)$(SYSCONFDIR)/fimguard/fimguard.conf; \
	    [ -e $$d ] || install -m 0644 policy/fimguard.conf $$d

clean:
	rm -rf build build-asan fimguard fimguard-asan
