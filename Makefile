# The two commands of the README:
#   make run    build drover and serve the example app on http://127.0.0.1:8000/
#   make test   build and run every test (unit + integration); non-zero on failure
BUILD ?= build
MESON_OPTIONS ?=

.PHONY: run test test-asan test-tsan deps build bench fuzz clean

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTIONS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/supervisor/drover -c etc/drover.toml

test: build
	meson test -C $(BUILD) --print-errorlogs --suite unit --suite integration; \
	status=$$?; /usr/bin/python3 scripts/test-summary.py $(BUILD); exit $$status

# The same suites on sanitizer builds (CI runs both); they fail on any report.
test-asan: deps
	scripts/sanitized-tests.sh asan

test-tsan: deps
	scripts/sanitized-tests.sh tsan

fuzz: deps
	tests/fuzz/run.sh $(or $(SECONDS),20)

# Builds its own release build (build-release/); not part of `make test`.
bench: deps
	BENCH_COMMAND="make bench" bench/run.sh

clean:
	rm -rf $(BUILD)
