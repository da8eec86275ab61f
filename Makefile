# fimguard. `make` builds, `make test` runs every test, `make run` starts
# it on the default policy. `make deps` installs what a fresh Debian 12
# machine lacks; test and run call it first.

CC	?= cc
PKGS	 = libcap-ng libxxhash openssl json-c libcurl libseccomp zlib rpm
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

# src/ is split by process and layer: cli -> monitor -> alert -> core
# (docs/architecture.md); `make lint` checks that no call goes upward.
SRCS	 = $(wildcard src/*/*.c)
LIBSRCS	 = $(filter-out src/cli/main.c,$(SRCS))
HDRS	 = $(wildcard include/*/*.h)
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
	     libssl-dev libjson-c-dev libcurl4-openssl-dev libseccomp-dev \
	     zlib1g-dev librpm-dev
TEST_DEPS  = libcmocka-dev python3 python3-pytest python3-aiosmtpd \
	     util-linux attr acl cppcheck patch liburing-dev gcc-multilib rpm \
	     rsyslog rsyslog-relp rsyslog-openssl
BENCH_DEPS = aide xxhash time rsyslog rsyslog-relp python3-aiosmtpd debsums
FUZZ_DEPS  = clang
PKG_DEPS   = debhelper dpkg-dev fakeroot lintian rpm rpmlint
VERSION	   = 0.1.0
# What a source package holds (tests and scratch output stay out).
DIST_FILES = Makefile README.md src include policy packaging

PREFIX	?= /usr/local
SYSCONFDIR ?= /etc
MANDIR	?= $(PREFIX)/share/man

.PHONY: all deps deps-test test unit integration asan lint bench run \
	install fuzz clean deb rpm test-packages test-systemd

all: fimguard

$(B)/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

fimguard: $(OBJS) $(B)/cli/main.o
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $^ $(LIBS) $(LDFLAGS)

$(B) $(B)/tests:
	mkdir -p $@

$(B)/tests/%: tests/unit/%.c $(OBJS) | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $< $(OBJS) $(LIBS) -lcmocka

# A fuzz target with a plain main() that replays its corpus, so every
# input the fuzzers found interesting stays a regression test (gcc).
$(B)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
    tests/fuzz/fuzz.h $(OBJS) | $(B)/tests
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

fimguard-asan: $(OBJS) $(B)/cli/main.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)
	FIMGUARD=$(CURDIR)/fimguard-asan $(PYTEST) tests/integration

# cppcheck, then the layers: no include or call goes upward
# (cli -> monitor -> alert -> core) and no two files call each other
# in a loop (tests/lint/layers.py reads the objects' symbols).
lint: deps-test
	cppcheck --quiet --error-exitcode=1 --inline-suppr \
	    --enable=warning,performance,portability \
	    --suppress=missingIncludeSystem -Iinclude -Itests/fuzz \
	    src tests/unit tests/fuzz
	$(MAKE) all
	$(PYTHON) tests/lint/layers.py $(B)

# Coverage-guided fuzzing with clang's libFuzzer (tests/fuzz/README.md):
# each target for FUZZ_TIME seconds (CI gives it a short time so that
# the targets keep building and running).
fuzz: deps
	$(call apt_install,$(FUZZ_DEPS))
	$(MAKE) -f tests/fuzz/Makefile run

# From a fresh clone: the build dependencies first, like test and run.
bench: deps
	$(MAKE) all
	$(call apt_install,$(BENCH_DEPS))
	bash tests/bench/run.sh
	bash tests/bench/packages.sh
	bash tests/bench/monitor.sh
	bash tests/bench/scale.sh
	$(PYTHON) tests/bench/alerts.py

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
	@for m in packaging/man/*.[0-9]; do s=$${m##*.}; \
	    install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m); \
	    done
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/fimguard/policy.d
	install -d -m 0700 $(DESTDIR)/var/lib/fimguard
	@for f in policy/*.rules; do \
	    d=$(DESTDIR)$(SYSCONFDIR)/fimguard/policy.d/$$(basename $$f); \
	    [ -e $$d ] || install -m 0644 $$f $$d; done
	@d=$(DESTDIR)$(SYSCONFDIR)/fimguard/fimguard.conf; \
	    [ -e $$d ] || install -m 0644 policy/fimguard.conf $$d
	@# the alerter's user (the packages make it with sysusers)
	@[ -n "$(DESTDIR)" ] || getent passwd fimguard >/dev/null || \
	    useradd --system --home-dir /var/lib/fimguard --no-create-home \
	    --shell /usr/sbin/nologin --comment "fimguard alerter" fimguard

# Debian package, unsigned, into build/deb/. debian/ is assembled from
# packaging/: the units, sysusers, tmpfiles, cron and logrotate files are
# shared with the RPM.
DEB_SRC = build/deb/fimguard-$(VERSION)
deb: deps
	$(call apt_install,$(PKG_DEPS))
	rm -rf build/deb && mkdir -p $(DEB_SRC)
	cp -r $(DIST_FILES) $(DEB_SRC)/
	cp -r packaging/debian $(DEB_SRC)/debian
	cp packaging/systemd/fimguard.service $(DEB_SRC)/debian/
	cp packaging/systemd/fimguard-check.service \
	    $(DEB_SRC)/debian/fimguard.fimguard-check.service
	cp packaging/systemd/fimguard-check.timer \
	    $(DEB_SRC)/debian/fimguard.fimguard-check.timer
	cp packaging/systemd/fimguard.sysusers $(DEB_SRC)/debian/
	cp packaging/systemd/fimguard.tmpfiles $(DEB_SRC)/debian/
	cp packaging/cron/fimguard $(DEB_SRC)/debian/fimguard.cron.d
	cp packaging/logrotate/fimguard $(DEB_SRC)/debian/fimguard.logrotate
	ls packaging/man/*.[0-9] > $(DEB_SRC)/debian/fimguard.manpages
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error build/deb/fimguard_$(VERSION)-1_*.deb

# RPM, with Debian's rpmbuild: no RPM database knows the Debian -dev
# packages (--nodeps), and systemd's RPM macros come from
# packaging/rpm/macros.systemd.
RPM_TOP = $(CURDIR)/build/rpm
rpm: deps
	$(call apt_install,$(PKG_DEPS))
	rm -rf build/rpm && mkdir -p $(RPM_TOP)/SOURCES build/rpm-src/fimguard-$(VERSION)
	cp -r $(DIST_FILES) build/rpm-src/fimguard-$(VERSION)/
	tar -C build/rpm-src -czf $(RPM_TOP)/SOURCES/fimguard-$(VERSION).tar.gz \
	    fimguard-$(VERSION)
	rpmbuild --load packaging/rpm/macros.systemd --define "_topdir $(RPM_TOP)" \
	    --define "_buildshell /bin/bash" \
	    --nodeps -bb packaging/rpm/fimguard.spec
	rpmlint -r packaging/rpm/rpmlintrc $(RPM_TOP)/RPMS/*/fimguard-$(VERSION)-*.rpm

test-packages: deb rpm
	bash tests/packaging/test_packages.sh

# The units under a real systemd, booted in a container (downloads a
# Debian base system: not part of make test or CI).
test-systemd: deb
	$(call apt_install,debootstrap systemd-container)
	bash tests/packaging/test_systemd.sh

clean:
	rm -rf build build-asan build/deb build/rpm build/rpm-src fimguard fimguard-asan
