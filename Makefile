# The two commands of the README:
#   make run    build drover and serve the example app on http://127.0.0.1:8000/
#   make test   build and run every test (unit + integration); non-zero on failure
# and the package:
#   make deb           build the Debian package from a clean copy of the tree (into build-deb/), lintian it
#   make test-systemd  install that package in a Debian 12 container booted with systemd, and test it there
# and the fleet drill (README, "Many hosts"; not part of make test):
#   make fleet  three drover hosts behind HAProxy and nginx, scraped by Prometheus
BUILD ?= build
MESON_OPTIONS ?=
DEB_OUT ?= build-deb

.PHONY: run test test-asan test-tsan deps deps-run deps-deb deps-systemd build test-build deb test-systemd bench fuzz fleet clean

# Each target installs only what it needs: `make run` the build and runtime
# packages, `make test` the test tools as well.
deps-run:
	@scripts/install-deps.sh --for run
deps:
	@scripts/install-deps.sh --for test
deps-deb:
	@scripts/install-deps.sh --for deb
deps-systemd:
	@scripts/install-deps.sh --for systemd

# `make run` configures without the unit tests (no GoogleTest needed);
# `make test` turns them on in the same build directory.
build: deps-run
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dtests=false $(MESON_OPTIONS)
	ninja -C $(BUILD)

test-build: deps
	@if [ -f $(BUILD)/build.ninja ]; then meson configure $(BUILD) -Dtests=true $(MESON_OPTIONS); \
	else meson setup $(BUILD) $(MESON_OPTIONS); fi
	ninja -C $(BUILD)

run: build
	$(BUILD)/supervisor/drover -c etc/drover.toml

test: test-build
	meson test -C $(BUILD) --print-errorlogs --suite unit --suite integration; \
	status=$$?; /usr/bin/python3 scripts/test-summary.py $(BUILD); exit $$status

# The same suites on sanitizer builds (CI runs both); they fail on any report.
test-asan: deps
	scripts/sanitized-tests.sh asan

test-tsan: deps
	scripts/sanitized-tests.sh tsan

deb: deps-deb
	scripts/build-deb.sh $(DEB_OUT)

# Boots a cached debootstrap tree (/var/cache/drover-test) with
# systemd-nspawn; skips with the reason where the machine cannot.
test-systemd: deps-systemd deb
	DROVER_DEB_DIR=$(abspath $(DEB_OUT)) /usr/bin/python3 -m pytest -p no:cacheprovider -q -rfEsxX tests/systemd; \
	status=$$?; cat $(DEB_OUT)/exposure.txt 2>/dev/null; exit $$status

# About a minute; prints the table of figures, also written to $(BUILD)/fleet-results.md.
fleet: deps build
	DROVER_BIN=$(BUILD)/supervisor/drover FLEET_RESULTS=$(BUILD)/fleet-results.md PYTHONDONTWRITEBYTECODE=1 \
	/usr/bin/python3 -m pytest -p no:cacheprovider -q -rfE tests/fleet

fuzz: deps
	tests/fuzz/run.sh $(or $(SECONDS),20)

# Builds its own release build (build-release/); not part of `make test`.
bench: deps
	BENCH_COMMAND="make bench" bench/run.sh

clean:
	rm -rf $(BUILD) $(DEB_OUT)
