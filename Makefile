# The two set-up commands of the README:
#   make demo  — install, build, run the example against the emulator
#   make test  — install, build, run every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test demo asan clean bench

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	examples/demo.sh $(BUILD)

# The same tests in a build with AddressSanitizer and UBSan.
asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Debug -DCR_SANITIZE=ON"

bench: build
	bench/run.sh $(BUILD)

clean:
	rm -rf build build-asan
