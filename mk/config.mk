# mk/config.mk: the settings every Makefile of the kit shares (included by mk/lab.mk, netutil/ and tests/).
#
#   SAN=address  AddressSanitizer + UndefinedBehaviorSanitizer (any report aborts the program)
#   SAN=thread   ThreadSanitizer
# Each variant builds into its own build/VARIANT/ tree, so switching variants never mixes objects.

.DEFAULT_GOAL := all

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)

# The normal build is -O2 -g. The sanitizer builds use -O1 -g1 (line tables: stack traces still name
# every file and line): instrumented C++ compiles several times slower, and these builds exist for the tests.
SAN ?=
OPTFLAGS := -O1 -g1
ifeq ($(SAN),)
  VARIANT := release
  OPTFLAGS := -O2 -g
  SANFLAGS :=
else ifeq ($(SAN),address)
  VARIANT := asan
  # -Wno-maybe-uninitialized: GCC 12 warns falsely inside libstdc++'s <regex> and <functional> when
  # instrumenting for ASan; the normal build keeps the warning.
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-maybe-uninitialized
else ifeq ($(SAN),thread)
  VARIANT := tsan
  SANFLAGS := -fsanitize=thread
else
  $(error SAN must be empty, address or thread, not '$(SAN)')
endif

CXX := g++
CPPFLAGS := -I$(ROOT) -MMD -MP
CXXFLAGS := -std=c++20 $(OPTFLAGS) -Wall -Wextra -Werror -pthread $(SANFLAGS)
LDFLAGS := -pthread $(SANFLAGS)

BUILD := $(ROOT)/build/$(VARIANT)
NETUTIL_LIB := $(BUILD)/netutil/libnetutil.a

# Where the lab programs of this variant live: the lab folders themselves for the normal build (so that
# `./server` is there), build/VARIANT/LAB/ for the sanitizer builds.
ifeq ($(VARIANT),release)
  BIN_ROOT := $(ROOT)
else
  BIN_ROOT := $(BUILD)
endif

# Installs what is missing (apt-get); does nothing, quickly and silently, when everything is there.
.PHONY: deps
deps:
	@$(ROOT)/mk/deps.sh
