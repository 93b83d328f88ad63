# uhttpd as a MicroPython user C module: the thin binding in moduhttpd.c
# and the engine as a Rust static library (crates/uhttpd-c), whose path the
# build passes as UHTTPD_STATICLIB (scripts/build-micropython.sh).
UHTTPD_MOD_DIR := $(USERMOD_DIR)
UHTTPD_INCLUDE := $(UHTTPD_MOD_DIR)/../../crates/uhttpd-c/include

SRC_USERMOD_C += $(UHTTPD_MOD_DIR)/moduhttpd.c
CFLAGS_USERMOD += -I$(UHTTPD_INCLUDE) -DMICROPY_PY_OS_DUPTERM=1
LDFLAGS_USERMOD += $(UHTTPD_STATICLIB) -lpthread -ldl -lm -lrt

# Relink when the engine changes.
$(BUILD)/micropython: $(UHTTPD_STATICLIB)
