# Allied: build, run, test and benchmark. `make run` and `make test` do their own set-up.
CC      ?= cc
PKGS    := libmicrohttpd jansson libpq uuid libcrypto libcurl
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-format-nonliteral -Wno-missing-field-initializers
CFLAGS_ALL = -std=c17 -D_GNU_SOURCE $(WARN) -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

ifeq ($(SANITIZE),1)
BUILD   := build-asan
CFLAGS_ALL += -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD   := build
CFLAGS_ALL += -O2 -g
endif

# server/ is the framework (process, edge/ = HTTP, data/ = PostgreSQL) and compiles without api/;
# api/ is the product: its route table, handlers and background services (api/app.c).
SERVER_SRC := $(sort $(wildcard server/*.c server/edge/*.c server/data/*.c))
API_SRC    := $(sort $(wildcard api/*.c api/*/*.c))
HEADERS    := $(wildcard server/*.h server/*/*.h api/*.h api/*/*.h)
CORE_SRC   := $(filter-out server/main.c,$(SERVER_SRC)) $(API_SRC) $(BUILD)/migrations.c $(BUILD)/embedded.c
UNIT_SRC   := tests/unit/unit_main.c tests/unit/test_util.c tests/unit/test_json_in.c \
              tests/unit/test_router.c tests/unit/test_pagination.c tests/unit/test_auth.c \
              tests/unit/test_workflow.c tests/unit/test_terms.c tests/unit/test_money.c tests/unit/test_webhook.c \
              tests/unit/test_text.c tests/unit/test_ratelimit.c \
              tests/unit/test_states.c tests/unit/test_notification_kinds.c tests/unit/test_notify.c

CORE_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(BUILD)/%,$(CORE_SRC))) $(BUILD)/migrations.o $(BUILD)/embedded.o
# Numbered migrations, then the JSON shapes (migrations/json/, common.sql first: the others use it).
MIGRATIONS := $(sort $(wildcard migrations/*.sql)) migrations/json/common.sql \
              $(filter-out migrations/json/common.sql,$(sort $(wildcard migrations/json/*.sql)))

.PHONY: all deps run test unit bench soak clean format format-check lint-openapi
all: $(BUILD)/allied

$(BUILD)/allied: $(BUILD)/server/main.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit_tests: $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC)) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(HEADERS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -c -o $@ $<

# Migrations are embedded in the binary so one file is the whole deployment.
$(BUILD)/migrations.c: $(MIGRATIONS) scripts/embed_migrations.sh
	@mkdir -p $(BUILD)
	sh scripts/embed_migrations.sh $(MIGRATIONS) > $@

$(BUILD)/migrations.o: $(BUILD)/migrations.c
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -c -o $@ $<

# Files served as they are (the API reference: GET /openapi.yaml, /docs), compiled in the same way:
# NAME=PATH, NAME being what the server looks up (server/embed.h).
EMBEDDED := openapi.yaml=openapi.yaml docs/index.html=api/docs/index.html \
            docs/redoc.standalone.js=api/docs/redoc.standalone.js
# The partner portal's pages, styles and scripts (api/portal.c serves them under /portal/).
EMBEDDED += $(foreach f,$(sort $(notdir $(wildcard api/portal/*.html api/portal/*.js api/portal/*.css))),portal/$(f)=api/portal/$(f))
$(BUILD)/embedded.c: $(foreach e,$(EMBEDDED),$(lastword $(subst =, ,$(e)))) scripts/embed_files.sh
	@mkdir -p $(BUILD)
	sh scripts/embed_files.sh $(EMBEDDED) > $@.tmp && mv $@.tmp $@

$(BUILD)/embedded.o: $(BUILD)/embedded.c server/embed.h
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -c -o $@ $<

deps:
	@sh scripts/deps.sh

# `-include`: the Docker build copies only what the server needs, not tests/.
-include tests/fuzz/fuzz.mk

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/allied
	@BUILD=$(BUILD) sh scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/allied $(BUILD)/unit_tests
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh scripts/test.sh

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/allied
	@BUILD=$(BUILD) sh scripts/bench.sh

# Timing-dependent measurements (tenant contention, auth timing, ...): printed, never asserted.
soak: deps
	@$(MAKE) --no-print-directory $(BUILD)/allied
	@BUILD=$(BUILD) ALLIED_BIN=$(CURDIR)/$(BUILD)/allied sh tests/soak/run.sh

lint-openapi:
	npx --yes @redocly/cli@1.34.5 lint openapi.yaml

format:
	clang-format -i server/*.[ch] api/*.[ch] tests/unit/*.[ch]

format-check:
	clang-format --dry-run --Werror server/*.[ch] api/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf build build-asan build-fuzz
