# `make fuzz`: libFuzzer harnesses (tests/fuzz/fuzz_*.c) over the request parsing code, built
# with clang + ASan + UBSan into build-fuzz/ and run for FUZZ_SECONDS each on the checked-in
# seeds (tests/fuzz/seeds/<harness>/). Included from the Makefile.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_HARNESSES := fuzz_http fuzz_json fuzz_route fuzz_cursor fuzz_auth fuzz_money fuzz_workflow
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# server/edge/http.c is replaced by tests/fuzz/shim.c (requests from a table, not a socket).
FUZZ_CORE_SRC := $(filter-out server/edge/http.c $(BUILD)/migrations.c $(BUILD)/embedded.c,$(CORE_SRC))
FUZZ_CORE_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_CORE_SRC) tests/fuzz/shim.c) $(FUZZ_BUILD)/migrations.o \
                 $(FUZZ_BUILD)/embedded.o
# fuzz_http runs the real server/edge/http.c (and no shim) against raw bytes on loopback.
FUZZ_HTTP_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(filter-out tests/fuzz/shim.c,$(FUZZ_CORE_SRC)) server/edge/http.c) $(FUZZ_BUILD)/migrations.o \
                 $(FUZZ_BUILD)/embedded.o

# Keep the objects (make would delete them as intermediates of the pattern rules).
.SECONDARY: $(FUZZ_CORE_OBJ) $(FUZZ_BUILD)/server/edge/http.o $(patsubst %,$(FUZZ_BUILD)/tests/fuzz/%.o,$(FUZZ_HARNESSES))

.PHONY: fuzz fuzz-build
fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_HARNESSES)

fuzz-build: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_HARNESSES))

$(FUZZ_BUILD)/fuzz_http: $(FUZZ_BUILD)/tests/fuzz/fuzz_http.o $(FUZZ_HTTP_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(FUZZ_BUILD)/%.o: %.c $(HEADERS) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -O2,$(CFLAGS_ALL)) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/migrations.c: $(MIGRATIONS) scripts/embed_migrations.sh
	@mkdir -p $(FUZZ_BUILD)
	sh scripts/embed_migrations.sh $(MIGRATIONS) > $@

$(FUZZ_BUILD)/migrations.o: $(FUZZ_BUILD)/migrations.c
	$(FUZZ_CC) $(filter-out -O2,$(CFLAGS_ALL)) $(FUZZ_FLAGS) -c -o $@ $<

# The served files (server/embed.h): the same generated table, built like the migrations.
$(FUZZ_BUILD)/embedded.o: $(BUILD)/embedded.c server/embed.h
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(filter-out -O2,$(CFLAGS_ALL)) -c -o $@ $<
