# The two set-up commands of the README:
#   make demo  — install, build, run the example against the emulator
#                (make demo-container: the same story with the job in its own image)
#   make test  — install, build, run every test on every Lua (5.4's full suite,
#                then the Lua specs on 5.1, 5.2, 5.3 and LuaJIT), with stage times
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# which Luas `make test` covers (scripts/test-all-luas)
LUAS ?= 5.4 5.1 5.2 5.3 luajit

.PHONY: all deps build test demo demo-container asan clean bench bench-quick bench-container fuzz test-install dist test-dist deb test-debian

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test:
	BUILD=$(BUILD) JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" scripts/test-all-luas $(LUAS)

demo: build
	examples/demo.sh $(BUILD)

# The original story in a container: an image of examples/manage.lua and cloudrun-lua
# on busybox, built locally with podman, run by `cloudrun emulator --runtime podman`
# with --id=42 (scripts/demo-container; as root; leaves the image
# localhost/lua-cloudrun-demo:latest behind).
demo-container: build
	scripts/demo-container $(BUILD)

# The full suite (on Lua 5.4) in a build with AddressSanitizer and UBSan.
asan:
	$(MAKE) test BUILD=build-asan LUAS=5.4 CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Debug -DCR_SANITIZE=ON"

# Issue 13's benchmark: floors, our C and Lua APIs, one-shots, Google's Node client,
# fan-out and the emulator on loopback; a table and bench/results.json (bench/run.sh).
bench: build
	bench/run.sh $(BUILD)

# Every part of `make bench` with tiny N: a smoke test for CI (no thresholds).
bench-quick: build
	BENCH_QUICK=1 bench/run.sh $(BUILD)
	BENCH_QUICK=1 bench/container.sh $(BUILD)

# Issue 20's: one task's cost per runtime (process, podman, docker where its CLI is
# present), beside the floors each cannot beat (bench/container.sh).
bench-container: build
	bench/container.sh $(BUILD)

# The libFuzzer targets (tests/fuzz) in build-fuzz with clang, each for FUZZ_SECONDS
# (default 60), printing the coverage reached; `scripts/fuzz --brief` is CI's short run.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

# cmake --install into a temporary prefix, the build tree deleted, then a stock Lua and a
# C program built with pkg-config each trigger a job on the installed emulator.
test-install: deps
	scripts/test-install

# The release tarball dist/lua-cloudrun-VERSION.tar.gz (HEAD, without .ci/, plus the
# release rockspec; VERSION is CMakeLists.txt's project version). Its rockspec's
# source.url is CR_RELEASE_URL (`make dist CR_RELEASE_URL=...`; default in scripts/dist).
dist:
	scripts/dist

# The tarball as a user gets it: unpacked outside the checkout, `luarocks make` of the
# release rockspec into a temporary tree for each Lua in DIST_LUAS (default all five),
# each tree driving a job on this build's emulator (scripts/test-dist).
test-dist: build
	BUILD=$(BUILD) scripts/test-dist

# The Debian packages into dist/deb (scripts/deb: the build dependencies, make dist's
# tarball with debian/, dpkg-buildpackage; Debian 12, as root). Then:
#   apt-get install ./dist/deb/*.deb
deb:
	scripts/deb

# The Debian packages (debian/): built with dpkg-buildpackage from a tarball of HEAD in a
# temporary directory, lintian, installed, every Lua, nginx and a C program run a job
# against the installed `cloudrun emulator`, then purged (Debian 12, as root).
test-debian:
	scripts/test-debian

clean:
	rm -rf build build-asan build-fuzz build-lua51 build-lua52 build-lua53 build-luajit
