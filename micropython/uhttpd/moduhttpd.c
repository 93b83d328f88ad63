// The `uhttpd` module in MicroPython: the seed's API over the engine's C
// ABI (uhttpd.h). This file converts MicroPython values to the ABI's
// arguments and back, and gives the engine MicroPython's threads, GIL and
// REPL; every HTTP and API rule is the engine's.

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py/gc.h"
#include "extmod/modplatform.h"
#include "py/mpthread.h"
#include "py/objstr.h"
#include "py/parse.h"
#include "py/compile.h"
#include "py/repl.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "extmod/misc.h"
#include "genhdr/mpversion.h"

#include "uhttpd.h"

#if !MICROPY_PY_THREAD || !MICROPY_PY_THREAD_GIL
#error "uhttpd needs MicroPython's threads with the GIL (MICROPY_PY_THREAD_GIL)"
#endif
#if !MICROPY_PY_OS_DUPTERM
#error "uhttpd's REPL needs MICROPY_PY_OS_DUPTERM (the program's output reaches the session through it)"
#endif

// The signal the unix port's garbage collector sends each thread so it
// scans its own stack (ports/unix/mpthreadport.c).
#define GC_SIGNAL (SIGRTMIN + 5)

// Sent to the REPL's thread with a Ctrl-C: its handler does nothing, but a
// call blocked in the kernel (time.sleep's select, a socket read) returns
// EINTR, and MicroPython then raises the pending KeyboardInterrupt.
#define INTERRUPT_SIGNAL (SIGRTMIN + 6)

// Stack of the threads the engine runs host code on: the engine's frames
// plus MicroPython's (a callback's recursion is bounded by it).
#define THREAD_STACK_BYTES (256 * 1024)

// Servers that run: reachable from here, so neither they nor the callbacks
// they hold are collected while the engine may call them.
MP_REGISTER_ROOT_POINTER(mp_obj_t uhttpd_live_servers);

// ---- errors -------------------------------------------------------------

static NORETURN void raise_kind(int kind) {
    const char *message = uhttpd_error_message();
    mp_obj_t text = mp_obj_new_str(message, strlen(message));
    const mp_obj_type_t *type;
    switch (kind) {
        case UHTTPD_VALUE_ERROR:
            type = &mp_type_ValueError;
            break;
        case UHTTPD_TYPE_ERROR:
            type = &mp_type_TypeError;
            break;
        case UHTTPD_OS_ERROR: {
            int errno_ = uhttpd_error_errno();
            if (errno_ != 0) {
                mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(errno_), text };
                nlr_raise(mp_obj_new_exception_args(&mp_type_OSError, 2, args));
            }
            type = &mp_type_OSError;
            break;
        }
        default:
            type = &mp_type_RuntimeError;
            break;
    }
    nlr_raise(mp_obj_new_exception_arg1(type, text));
}

static void check(int kind) {
    if (kind != UHTTPD_OK) {
        raise_kind(kind);
    }
}

static const char *type_name(mp_obj_t obj) {
    return qstr_str(mp_obj_get_type(obj)->name);
}

static NORETURN void wrong_type(const char *what, mp_obj_t obj) {
    raise_kind(uhttpd_wrong_type(what, type_name(obj)));
}

// Bytes of a str or bytes-like object (never an int or a list).
static void get_data(mp_obj_t obj, mp_buffer_info_t *buf) {
    if (mp_obj_is_int(obj) || !mp_get_buffer(obj, buf, MP_BUFFER_READ)) {
        wrong_type("expected str or a bytes-like object", obj);
    }
}

static const char *optional_str(mp_obj_t obj) {
    return obj == mp_const_none ? NULL : mp_obj_str_get_str(obj);
}

// ---- values handed out by the engine --------------------------------------
// The engine's sinks run inside Rust frames: an exception must not jump
// over them, so it is caught here and raised once the call has returned.

typedef struct {
    mp_obj_t value;
    mp_obj_t raised;
} collected_t;

// bytes, or str when `text` (the engine hands out UTF-8 for text).
static mp_obj_t new_bytes_or_str(const uint8_t *data, size_t len, bool text) {
    return text ? mp_obj_new_str((const char *)data, len) : mp_obj_new_bytes(data, len);
}

static void collect_value(collected_t *c, const uint8_t *data, size_t len, bool text) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        c->value = new_bytes_or_str(data, len, text);
        nlr_pop();
    } else {
        c->raised = MP_OBJ_FROM_PTR(nlr.ret_val);
    }
}

static void collect_bytes(void *ctx, const uint8_t *data, size_t len) {
    collect_value(ctx, data, len, false);
}

static void collect_str(void *ctx, const uint8_t *data, size_t len) {
    collect_value(ctx, data, len, true);
}

// A pair into the dict in c->value (bytes values, True for a bare key);
// after a first exception the rest are dropped.
static void collect_pair(collected_t *c, const uint8_t *key, size_t key_len, bool text_key,
    const uint8_t *value, size_t value_len, bool bare) {
    if (c->raised != MP_OBJ_NULL) {
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t v = bare ? mp_const_true : mp_obj_new_bytes(value, value_len);
        mp_obj_dict_store(c->value, new_bytes_or_str(key, key_len, text_key), v);
        nlr_pop();
    } else {
        c->raised = MP_OBJ_FROM_PTR(nlr.ret_val);
    }
}

// Query pairs: bytes keys.
static void collect_query_pair(void *ctx, const uint8_t *key, size_t key_len,
    const uint8_t *value, size_t value_len, bool bare) {
    collect_pair(ctx, key, key_len, false, value, value_len, bare);
}

// Header pairs: str keys (lowercase names).
static void collect_header_pair(void *ctx, const uint8_t *key, size_t key_len,
    const uint8_t *value, size_t value_len, bool bare) {
    collect_pair(ctx, key, key_len, true, value, value_len, bare);
}

// The single value of a query: bytes, or True for a bare key.
static void collect_query_value(void *ctx, const uint8_t *key, size_t key_len,
    const uint8_t *value, size_t value_len, bool bare) {
    (void)key;
    (void)key_len;
    collected_t *c = ctx;
    if (bare) {
        c->value = mp_const_true;
    } else {
        collect_bytes(ctx, value, value_len);
    }
}

static mp_obj_t collected(collected_t *c) {
    if (c->raised != MP_OBJ_NULL) {
        nlr_raise(c->raised);
    }
    return c->value;
}

// ---- threads ----------------------------------------------------------------

typedef struct {
    void (*work)(void *);
    void *arg;
} spawn_args_t;

static void *thread_entry(void *p) {
    spawn_args_t args = *(spawn_args_t *)p;
    free(p);
    // The engine's threads leave asynchronous signals to the main thread
    // (Ctrl-C is MicroPython's there), but take the collector's.
    sigset_t mask;
    sigfillset(&mask);
    int kept[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, GC_SIGNAL, INTERRUPT_SIGNAL };
    for (size_t i = 0; i < MP_ARRAY_SIZE(kept); i++) {
        sigdelset(&mask, kept[i]);
    }
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    // At exit the unix port cancels every thread it knows; a cancellation's
    // forced unwind must not cross the engine's frames. These threads end
    // with the process instead.
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);

    mp_state_thread_t ts;
    mp_thread_init_state(&ts, THREAD_STACK_BYTES - 1024, NULL, NULL);
    MP_THREAD_GIL_ENTER();
    mp_thread_start();
    MP_THREAD_GIL_EXIT();
    // The engine takes the GIL whenever it runs Python (uhttpd_host.enter).
    args.work(args.arg);
    MP_THREAD_GIL_ENTER();
    mp_thread_finish();
    MP_THREAD_GIL_EXIT();
    return NULL;
}

static int host_spawn(void (*work)(void *), void *arg) {
    spawn_args_t *args = malloc(sizeof(spawn_args_t));
    if (args == NULL) {
        return ENOMEM;
    }
    args->work = work;
    args->arg = arg;
    // Engine threads that are not MicroPython's (its socket threads) start
    // threads too: mp_thread_create needs a thread state for its error path.
    mp_state_thread_t scratch;
    mp_state_thread_t *own = mp_thread_get_state();
    if (own == NULL) {
        memset(&scratch, 0, sizeof(scratch));
        mp_thread_set_state(&scratch);
    }
    int failed = 0;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        size_t stack = THREAD_STACK_BYTES;
        mp_thread_create(thread_entry, args, &stack);
        nlr_pop();
    } else {
        failed = EAGAIN;
        free(args);
    }
    if (own == NULL) {
        mp_thread_set_state(NULL);
    }
    return failed;
}

static void host_enter(void) {
    MP_THREAD_GIL_ENTER();
}

static void host_leave(void) {
    MP_THREAD_GIL_EXIT();
}

// ---- Request --------------------------------------------------------------

typedef struct {
    mp_obj_base_t base;
    uhttpd_request *request;
    mp_obj_t server;
} request_obj_t;

extern const mp_obj_type_t uhttpd_request_type;

static mp_obj_t new_request(uhttpd_request *request, mp_obj_t server) {
    request_obj_t *self = mp_obj_malloc_with_finaliser(request_obj_t, &uhttpd_request_type);
    self->request = request;
    self->server = server;
    return MP_OBJ_FROM_PTR(self);
}

static uhttpd_request *req(mp_obj_t self_in) {
    return ((request_obj_t *)MP_OBJ_TO_PTR(self_in))->request;
}

static mp_obj_t request_del(mp_obj_t self_in) {
    request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->request != NULL) {
        uhttpd_request_free(self->request);
        self->request = NULL;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_del_obj, request_del);

static mp_obj_t request_server(mp_obj_t self_in) {
    return ((request_obj_t *)MP_OBJ_TO_PTR(self_in))->server;
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_server_obj, request_server);

static mp_obj_t request_method(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(uhttpd_request_method(req(self_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_method_obj, request_method);

static mp_obj_t request_uri(mp_obj_t self_in) {
    size_t len;
    const char *uri = uhttpd_request_uri(req(self_in), &len);
    return mp_obj_new_str(uri, len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_uri_obj, request_uri);

static mp_obj_t request_path(mp_obj_t self_in) {
    size_t len;
    const char *path = uhttpd_request_path(req(self_in), &len);
    return mp_obj_new_str(path, len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_path_obj, request_path);

static mp_obj_t request_length(mp_obj_t self_in) {
    return mp_obj_new_int_from_ll(uhttpd_request_length(req(self_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_length_obj, request_length);

static mp_obj_t request_query(mp_obj_t self_in, mp_obj_t key) {
    mp_buffer_info_t buf;
    get_data(key, &buf);
    collected_t c = { mp_const_none, MP_OBJ_NULL };
    uhttpd_request_query(req(self_in), buf.buf, buf.len, collect_query_value, &c);
    return collected(&c);
}
static MP_DEFINE_CONST_FUN_OBJ_2(request_query_obj, request_query);

static mp_obj_t request_parse_qs(mp_obj_t self_in) {
    collected_t c = { mp_obj_new_dict(0), MP_OBJ_NULL };
    uhttpd_request_parse_qs(req(self_in), collect_query_pair, &c);
    return collected(&c);
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_parse_qs_obj, request_parse_qs);

static mp_obj_t request_header(mp_obj_t self_in, mp_obj_t name) {
    if (!mp_obj_is_str(name)) {
        wrong_type("header name must be str", name);
    }
    collected_t c = { mp_const_none, MP_OBJ_NULL };
    uhttpd_request_header(req(self_in), mp_obj_str_get_str(name), collect_bytes, &c);
    return collected(&c);
}
static MP_DEFINE_CONST_FUN_OBJ_2(request_header_obj, request_header);

static mp_obj_t request_headers(mp_obj_t self_in) {
    collected_t c = { mp_obj_new_dict(0), MP_OBJ_NULL };
    uhttpd_request_headers(req(self_in), collect_header_pair, &c);
    return collected(&c);
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_headers_obj, request_headers);

static mp_obj_t request_remote(mp_obj_t self_in) {
    collected_t c = { mp_const_none, MP_OBJ_NULL };
    uint16_t port = uhttpd_request_remote(req(self_in), collect_str, &c);
    mp_obj_t items[2] = { collected(&c), MP_OBJ_NEW_SMALL_INT(port) };
    return mp_obj_new_tuple(2, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_remote_obj, request_remote);

static mp_obj_t request_read(size_t n_args, const mp_obj_t *args) {
    mp_int_t len = n_args > 1 ? mp_obj_get_int(args[1]) : -1;
    collected_t c = { mp_const_empty_bytes, MP_OBJ_NULL };
    check(uhttpd_request_read(req(args[0]), len, collect_bytes, &c));
    return collected(&c);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(request_read_obj, 1, 2, request_read);

static mp_obj_t request_readinto(mp_obj_t self_in, mp_obj_t buffer) {
    mp_buffer_info_t buf;
    if (!mp_get_buffer(buffer, &buf, MP_BUFFER_WRITE)) {
        mp_raise_TypeError(MP_ERROR_TEXT("readinto() needs a writable buffer"));
    }
    size_t n = 0;
    check(uhttpd_request_readinto(req(self_in), buf.buf, buf.len, &n));
    return MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(request_readinto_obj, request_readinto);

enum { ARG_data, ARG_status, ARG_mime, ARG_headers, ARG_allow_cors };
static const mp_arg_t reply_args[] = {
    { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    { MP_QSTR_status, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    { MP_QSTR_mime, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    { MP_QSTR_headers, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    { MP_QSTR_allow_cors, MP_ARG_BOOL, {.u_bool = false} },
};

// The reply's head arguments; `fields` must have room for every header.
static void reply_from_args(mp_arg_val_t *vals, uhttpd_reply *reply, uhttpd_header **fields) {
    memset(reply, 0, sizeof(*reply));
    mp_obj_t status = vals[ARG_status].u_obj;
    if (status == mp_const_none) {
        reply->status_kind = UHTTPD_STATUS_DEFAULT;
    } else if (mp_obj_is_int(status)) {
        reply->status_kind = UHTTPD_STATUS_CODE;
        mp_int_t code;
        reply->status_code = mp_obj_get_int_maybe(status, &code) ? code : -1;
    } else {
        mp_buffer_info_t buf;
        get_data(status, &buf);
        reply->status_kind = UHTTPD_STATUS_TEXT;
        reply->status_text = buf.buf;
        reply->status_text_len = buf.len;
    }
    if (vals[ARG_mime].u_obj != mp_const_none) {
        mp_buffer_info_t buf;
        get_data(vals[ARG_mime].u_obj, &buf);
        reply->mime = buf.buf;
        reply->mime_len = buf.len;
    }
    mp_obj_t headers = vals[ARG_headers].u_obj;
    *fields = NULL;
    if (headers != mp_const_none) {
        if (!mp_obj_is_type(headers, &mp_type_dict)) {
            wrong_type("headers must be a dict", headers);
        }
        mp_map_t *map = mp_obj_dict_get_map(headers);
        *fields = m_new(uhttpd_header, map->used ? map->used : 1);
        size_t n = 0;
        for (size_t i = 0; i < map->alloc; i++) {
            if (!mp_map_slot_is_filled(map, i)) {
                continue;
            }
            mp_buffer_info_t name, value;
            get_data(map->table[i].key, &name);
            get_data(map->table[i].value, &value);
            (*fields)[n++] = (uhttpd_header) { name.buf, name.len, value.buf, value.len };
        }
        reply->headers = *fields;
        reply->header_count = n;
    }
    reply->allow_cors = vals[ARG_allow_cors].u_bool;
}

static mp_obj_t request_write(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    mp_arg_val_t vals[MP_ARRAY_SIZE(reply_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(reply_args), reply_args, vals);
    mp_buffer_info_t data;
    get_data(vals[ARG_data].u_obj, &data);
    uhttpd_reply reply;
    uhttpd_header *fields;
    reply_from_args(vals, &reply, &fields);
    check(uhttpd_request_write(req(pos_args[0]), data.buf, data.len, &reply));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(request_write_obj, 2, request_write);

static mp_obj_t request_send_chunk(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    mp_arg_val_t vals[MP_ARRAY_SIZE(reply_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(reply_args), reply_args, vals);
    uhttpd_reply reply;
    uhttpd_header *fields;
    reply_from_args(vals, &reply, &fields);
    if (vals[ARG_data].u_obj == mp_const_none) {
        check(uhttpd_request_send_chunk(req(pos_args[0]), NULL, 0, &reply));
    } else {
        mp_buffer_info_t data;
        get_data(vals[ARG_data].u_obj, &data);
        // A zero-length chunk is still a chunk, not the end.
        static const uint8_t nothing[1];
        check(uhttpd_request_send_chunk(req(pos_args[0]), data.len ? data.buf : nothing, data.len, &reply));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(request_send_chunk_obj, 2, request_send_chunk);

static mp_obj_t request_send(mp_obj_t self_in, mp_obj_t data_in) {
    mp_buffer_info_t data;
    get_data(data_in, &data);
    check(uhttpd_request_send(req(self_in), data.buf, data.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(request_send_obj, request_send);

static void request_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    collected_t c = { mp_const_none, MP_OBJ_NULL };
    uhttpd_request_repr(req(self_in), collect_str, &c);
    mp_obj_print_helper(print, collected(&c), PRINT_STR);
}

static const mp_rom_map_elem_t request_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&request_del_obj) },
    { MP_ROM_QSTR(MP_QSTR_server), MP_ROM_PTR(&request_server_obj) },
    { MP_ROM_QSTR(MP_QSTR_method), MP_ROM_PTR(&request_method_obj) },
    { MP_ROM_QSTR(MP_QSTR_uri), MP_ROM_PTR(&request_uri_obj) },
    { MP_ROM_QSTR(MP_QSTR_length), MP_ROM_PTR(&request_length_obj) },
    { MP_ROM_QSTR(MP_QSTR_path), MP_ROM_PTR(&request_path_obj) },
    { MP_ROM_QSTR(MP_QSTR_query), MP_ROM_PTR(&request_query_obj) },
    { MP_ROM_QSTR(MP_QSTR_parse_qs), MP_ROM_PTR(&request_parse_qs_obj) },
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&request_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&request_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&request_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_send_chunk), MP_ROM_PTR(&request_send_chunk_obj) },
    { MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&request_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_header), MP_ROM_PTR(&request_header_obj) },
    { MP_ROM_QSTR(MP_QSTR_headers), MP_ROM_PTR(&request_headers_obj) },
    { MP_ROM_QSTR(MP_QSTR_remote), MP_ROM_PTR(&request_remote_obj) },
};
static MP_DEFINE_CONST_DICT(request_locals, request_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    uhttpd_request_type,
    MP_QSTR_Request,
    MP_TYPE_FLAG_NONE,
    print, request_print,
    locals_dict, &request_locals
    );

// ---- callbacks from the engine ---------------------------------------------
// Each callback the engine holds is a (server, callable) tuple kept in its
// server's `held` list.

static void print_exception(const char *what, mp_obj_t exc) {
    mp_printf(MICROPY_ERROR_PRINTER, "uhttpd: ERROR: %s raised an exception\n", what);
    mp_obj_print_exception(MICROPY_ERROR_PRINTER, exc);
}

// The (server, callable) items of an entry made by hold().
static mp_obj_t *held_entry(void *callback) {
    size_t len;
    mp_obj_t *items;
    mp_obj_tuple_get(MP_OBJ_FROM_PTR(callback), &len, &items);
    return items;
}

// A Request object owning `request`; NULL (and `request` freed) when even
// that could not be made (the heap is full).
static mp_obj_t own_request(uhttpd_request *request, mp_obj_t server) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t obj = new_request(request, server);
        nlr_pop();
        return obj;
    }
    uhttpd_request_free(request);
    print_exception("creating the request object", MP_OBJ_FROM_PTR(nlr.ret_val));
    return MP_OBJ_NULL;
}

static void host_handle(void *callback, uhttpd_request *request) {
    mp_obj_t *entry = held_entry(callback);
    mp_obj_t obj = own_request(request, entry[0]);
    if (obj == MP_OBJ_NULL) {
        return;  // answered 500: the engine's request was dropped unanswered
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_1(entry[1], obj);
        nlr_pop();
        uhttpd_request_finish(request, false);
        return;
    }
    collected_t c = { mp_const_none, MP_OBJ_NULL };
    uhttpd_request_handler_name(request, collect_str, &c);
    print_exception(c.value == mp_const_none ? "the handler" : mp_obj_str_get_str(c.value),
        MP_OBJ_FROM_PTR(nlr.ret_val));
    uhttpd_request_finish(request, true);
}

// A callback's value as the engine judges it.
static int verdict_of(mp_obj_t value, int64_t *verdict) {
    if (mp_obj_is_small_int(value)) {
        *verdict = MP_OBJ_SMALL_INT_VALUE(value);
        return UHTTPD_VERDICT_INT;
    }
    if (mp_obj_is_int(value)) {
        // A long int: one that fits a machine word still counts as an int.
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            *verdict = mp_obj_int_get_checked(value);
            nlr_pop();
            return UHTTPD_VERDICT_INT;
        }
        return UHTTPD_VERDICT_BIG_INT;
    }
    return mp_obj_is_true(value) ? UHTTPD_VERDICT_TRUTHY : UHTTPD_VERDICT_FALSY;
}

static int host_authenticate(void *callback, uhttpd_request *request, int64_t *verdict,
    uhttpd_sink shown, void *ctx) {
    mp_obj_t *entry = held_entry(callback);
    mp_obj_t obj = own_request(request, entry[0]);
    if (obj == MP_OBJ_NULL) {
        return UHTTPD_VERDICT_RAISED;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t value = mp_call_function_1(entry[1], obj);
        int kind = verdict_of(value, verdict);
        if (kind == UHTTPD_VERDICT_INT || kind == UHTTPD_VERDICT_BIG_INT) {
            vstr_t text;
            mp_print_t print;
            vstr_init_print(&text, 24, &print);
            mp_obj_print_helper(&print, value, PRINT_REPR);
            shown(ctx, (const uint8_t *)text.buf, text.len);
            vstr_clear(&text);
        }
        nlr_pop();
        return kind;
    }
    print_exception("the authentication callback", MP_OBJ_FROM_PTR(nlr.ret_val));
    return UHTTPD_VERDICT_RAISED;
}

static int host_file_acl(void *callback, const char *path, size_t len, int64_t *verdict) {
    mp_obj_t *entry = held_entry(callback);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        int kind = verdict_of(mp_call_function_1(entry[1], mp_obj_new_str(path, len)), verdict);
        nlr_pop();
        return kind;
    }
    char line[300];
    snprintf(line, sizeof(line), "the file_acl callback for %.*s", (int)len, path);
    print_exception(line, MP_OBJ_FROM_PTR(nlr.ret_val));
    return UHTTPD_VERDICT_RAISED;
}

// ---- the REPL -------------------------------------------------------------
// The engine's console edits lines and speaks the raw REPL; statements run
// here, in __main__, as MicroPython's pyexec runs them. What the program
// prints reaches the session through dupterm, as on a board.

static mp_state_thread_t *volatile repl_thread;
static pthread_t repl_pthread;

static void on_interrupt_signal(int signo) {
    (void)signo;
}

static mp_uint_t dupterm_read(mp_obj_t self, void *buf, mp_uint_t size, int *errcode) {
    (void)self;
    (void)buf;
    (void)size;
    *errcode = MP_EAGAIN;  // input comes from the WebREPL, not through here
    return MP_STREAM_ERROR;
}

static mp_uint_t dupterm_write(mp_obj_t self, const void *buf, mp_uint_t size, int *errcode) {
    (void)self;
    (void)errcode;
    uhttpd_repl_output(buf, size);
    return size;
}

static const mp_stream_p_t dupterm_stream_p = {
    .read = dupterm_read,
    .write = dupterm_write,
};

static const mp_rom_map_elem_t dupterm_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
};
static MP_DEFINE_CONST_DICT(dupterm_locals, dupterm_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    dupterm_type,
    MP_QSTR_WebREPL,
    MP_TYPE_FLAG_NONE,
    protocol, &dupterm_stream_p,
    locals_dict, &dupterm_locals
    );

static const mp_obj_base_t dupterm_obj = { &dupterm_type };

// What dupterm slot 0 held before a session attached.
MP_REGISTER_ROOT_POINTER(mp_obj_t uhttpd_saved_dupterm);

static void host_repl_attach(void) {
    MP_STATE_VM(uhttpd_saved_dupterm) = MP_STATE_VM(dupterm_objs[0]);
    MP_STATE_VM(dupterm_objs[0]) = MP_OBJ_FROM_PTR(&dupterm_obj);
}

static void host_repl_detach(void) {
    if (MP_STATE_VM(dupterm_objs[0]) == MP_OBJ_FROM_PTR(&dupterm_obj)) {
        MP_STATE_VM(dupterm_objs[0]) = MP_STATE_VM(uhttpd_saved_dupterm);
    }
    MP_STATE_VM(uhttpd_saved_dupterm) = MP_OBJ_NULL;
}

static bool host_repl_continues(const char *source, size_t len) {
    char *text = malloc(len + 1);
    if (text == NULL) {
        return false;
    }
    memcpy(text, source, len);
    text[len] = '\0';
    bool more = mp_repl_continue_with_input(text);
    free(text);
    return more;
}

static void print_to_sink(void *env, const char *str, size_t len) {
    collected_t *c = env;
    vstr_add_strn(MP_OBJ_TO_PTR(c->value), str, len);
}

static bool host_repl_exec(const char *source, size_t len, bool file, uhttpd_sink error, void *ctx) {
    MP_STATE_THREAD(mp_pending_exception) = MP_OBJ_NULL;
    repl_pthread = pthread_self();
    repl_thread = mp_thread_get_state();
    bool raised = false;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_str_len(MP_QSTR__lt_stdin_gt_, source, len, 0);
        qstr name = lex->source_name;
        mp_parse_tree_t tree = mp_parse(lex, file ? MP_PARSE_FILE_INPUT : MP_PARSE_SINGLE_INPUT);
        mp_obj_t code = mp_compile(&tree, name, !file);
        mp_call_function_0(code);
        nlr_pop();
    } else {
        raised = true;
        mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        if (error != NULL) {
            vstr_t text;
            vstr_init(&text, 64);
            collected_t c = { MP_OBJ_FROM_PTR(&text), MP_OBJ_NULL };
            mp_print_t print = { &c, print_to_sink };
            mp_obj_print_exception(&print, exc);
            error(ctx, (const uint8_t *)text.buf, text.len);
            vstr_clear(&text);
        } else {
            mp_obj_print_exception(&mp_plat_print, exc);
        }
    }
    repl_thread = NULL;
    MP_STATE_THREAD(mp_pending_exception) = MP_OBJ_NULL;
    return raised;
}

static void host_repl_interrupt(void) {
    mp_state_thread_t *running = repl_thread;
    if (running != NULL) {
        running->mp_pending_exception = MP_OBJ_FROM_PTR(&MP_STATE_VM(mp_kbd_exception));
        pthread_kill(repl_pthread, INTERRUPT_SIGNAL);
    }
}

static void host_repl_banner(uhttpd_sink sink, void *ctx) {
    static const char banner[] = MICROPY_BANNER_NAME_AND_VERSION "; " MICROPY_BANNER_MACHINE;
    sink(ctx, (const uint8_t *)banner, strlen(banner));
}

static const uhttpd_host host = {
    .spawn = host_spawn,
    .enter = host_enter,
    .leave = host_leave,
    .handle = host_handle,
    .authenticate = host_authenticate,
    .file_acl = host_file_acl,
    .repl_attach = host_repl_attach,
    .repl_detach = host_repl_detach,
    .repl_continues = host_repl_continues,
    .repl_exec = host_repl_exec,
    .repl_interrupt = host_repl_interrupt,
    .repl_banner = host_repl_banner,
};

// ---- Server ---------------------------------------------------------------

typedef struct {
    mp_obj_base_t base;
    uhttpd_server *engine;
    // Every callback the engine holds, as (server, callable) tuples.
    mp_obj_t held;
} server_obj_t;

extern const mp_obj_type_t uhttpd_server_type;

static server_obj_t *open_server(mp_obj_t self_in) {
    server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->engine == NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("server is closed"));
    }
    return self;
}

static void check_callable(mp_obj_t callback, const char *what) {
    if (!mp_obj_is_callable(callback)) {
        char text[64];
        snprintf(text, sizeof(text), "%s must be callable", what);
        wrong_type(text, callback);
    }
}

// The (server, callable) entry the engine will hold, kept alive by the server.
static void *hold(server_obj_t *self, mp_obj_t callback) {
    mp_obj_t items[2] = { MP_OBJ_FROM_PTR(self), callback };
    mp_obj_t entry = mp_obj_new_tuple(2, items);
    mp_obj_list_append(self->held, entry);
    return MP_OBJ_TO_PTR(entry);
}

static void forget(server_obj_t *self) {
    mp_obj_t live = MP_STATE_VM(uhttpd_live_servers);
    if (live != MP_OBJ_NULL) {
        mp_obj_list_remove(live, MP_OBJ_FROM_PTR(self));
    }
}

static bool is_live(server_obj_t *self) {
    mp_obj_t live = MP_STATE_VM(uhttpd_live_servers);
    if (live == MP_OBJ_NULL) {
        return false;
    }
    size_t len;
    mp_obj_t *items;
    mp_obj_list_get(live, &len, &items);
    for (size_t i = 0; i < len; i++) {
        if (items[i] == MP_OBJ_FROM_PTR(self)) {
            return true;
        }
    }
    return false;
}

enum { ARG_port, ARG_acl, ARG_cors, ARG_routes, ARG_auth, ARG_events, ARG_host, ARG_root, ARG_ext, ARG_workers };

static mp_obj_t server_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    static const mp_arg_t allowed[] = {
        { MP_QSTR_port, MP_ARG_INT, {.u_int = 80} },
        { MP_QSTR_acl, MP_ARG_INT, {.u_int = UHTTPD_AUTH_OPEN} },
        { MP_QSTR_cors, MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_routes, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_auth, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_events, MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_host, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_root, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_ext, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_workers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, args);
    if (MP_STATE_VM(uhttpd_live_servers) == MP_OBJ_NULL) {
        // No SA_RESTART: the signal is there to break a blocked call.
        struct sigaction action = { 0 };
        action.sa_handler = on_interrupt_signal;
        sigemptyset(&action.sa_mask);
        sigaction(INTERRUPT_SIGNAL, &action, NULL);
    }
    uhttpd_init(&host);  // once; later calls do nothing

    server_obj_t *self = mp_obj_malloc_with_finaliser(server_obj_t, type);
    self->engine = NULL;
    self->held = mp_obj_new_list(0, NULL);

    uhttpd_config config;
    memset(&config, 0, sizeof(config));
    config.port = args[ARG_port].u_int;
    config.acl = args[ARG_acl].u_int;
    config.cors = args[ARG_cors].u_bool;
    config.events = args[ARG_events].u_int;
    config.host = args[ARG_host].u_obj == MP_OBJ_NULL ? "0.0.0.0" : mp_obj_str_get_str(args[ARG_host].u_obj);
    config.root = optional_str(args[ARG_root].u_obj);
    config.ext = optional_str(args[ARG_ext].u_obj);
    if (args[ARG_workers].u_obj != mp_const_none) {
        config.has_workers = true;
        config.workers = mp_obj_get_int(args[ARG_workers].u_obj);
    }

    mp_obj_t auth = args[ARG_auth].u_obj;
    mp_buffer_info_t auth_value;
    if (auth == mp_const_none) {
        config.auth_kind = UHTTPD_AUTH_ABSENT;
    } else if (mp_obj_is_callable(auth)) {
        config.auth_kind = UHTTPD_AUTH_CALLBACK;
        config.auth_callback = hold(self, auth);
    } else if (!mp_obj_is_int(auth) && mp_get_buffer(auth, &auth_value, MP_BUFFER_READ)) {
        config.auth_kind = UHTTPD_AUTH_VALUE;
        config.auth_value = auth_value.buf;
        config.auth_value_len = auth_value.len;
    } else {
        config.auth_kind = UHTTPD_AUTH_OTHER;
        config.auth_type_name = type_name(auth);
    }

    mp_obj_t routes = args[ARG_routes].u_obj;
    uhttpd_route *table = NULL;
    if (routes == mp_const_none) {
        config.routes_kind = UHTTPD_ROUTES_DEFAULT;
    } else if (mp_obj_is_int(routes)) {
        config.routes_kind = UHTTPD_ROUTES_SLOTS;
        config.routes_slots = mp_obj_get_int(routes);
    } else {
        config.routes_kind = UHTTPD_ROUTES_TABLE;
        mp_obj_t list = mp_obj_new_list(0, NULL);
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_obj_t iter = mp_getiter(routes, NULL);
            mp_obj_t item;
            while ((item = mp_iternext(iter)) != MP_OBJ_STOP_ITERATION) {
                mp_obj_list_append(list, item);
            }
            nlr_pop();
        } else {
            mp_raise_TypeError(MP_ERROR_TEXT("routes must be an int or an iterable of (url, methods, callback)"));
        }
        size_t len;
        mp_obj_t *items;
        mp_obj_list_get(list, &len, &items);
        table = m_new(uhttpd_route, len ? len : 1);
        for (size_t i = 0; i < len; i++) {
            size_t n = 0;
            mp_obj_t *fields = NULL;
            if (mp_obj_is_type(items[i], &mp_type_tuple) || mp_obj_is_type(items[i], &mp_type_list)) {
                mp_obj_get_array(items[i], &n, &fields);
            }
            if (n != 3) {
                vstr_t shown;
                mp_print_t print;
                vstr_init_print(&shown, 32, &print);
                mp_obj_print_helper(&print, items[i], PRINT_REPR);
                mp_raise_msg_varg(&mp_type_TypeError,
                    MP_ERROR_TEXT("each route must be (url, methods, callback), got %s"), vstr_null_terminated_str(&shown));
            }
            check_callable(fields[2], "a route callback");
            table[i].url = mp_obj_str_get_str(fields[0]);
            table[i].methods = mp_obj_get_int(fields[1]);
            table[i].callback = hold(self, fields[2]);
        }
        config.table = table;
        config.table_len = len;
    }

    check(uhttpd_server_new(&config, &self->engine));
    if (MP_STATE_VM(uhttpd_live_servers) == MP_OBJ_NULL) {
        MP_STATE_VM(uhttpd_live_servers) = mp_obj_new_list(0, NULL);
    }
    mp_obj_list_append(MP_STATE_VM(uhttpd_live_servers), MP_OBJ_FROM_PTR(self));
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t server_port(mp_obj_t self_in) {
    uint16_t port;
    check(uhttpd_server_port(open_server(self_in)->engine, &port));
    return MP_OBJ_NEW_SMALL_INT(port);
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_port_obj, server_port);

static mp_obj_t server_route(size_t n_args, const mp_obj_t *args) {
    server_obj_t *self = open_server(args[0]);
    check_callable(args[3], "callback");
    const char *url = mp_obj_str_get_str(args[1]);
    mp_int_t methods = mp_obj_get_int(args[2]);
    void *entry = hold(self, args[3]);
    int kind = uhttpd_server_route(self->engine, url, methods, entry);
    if (kind != UHTTPD_OK) {
        mp_obj_list_remove(self->held, MP_OBJ_FROM_PTR(entry));
        raise_kind(kind);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(server_route_obj, 4, 4, server_route);

static mp_obj_t server_serve(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed[] = {
        { MP_QSTR_prefix, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_base, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_dirs, MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_ext, MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    server_obj_t *self = open_server(pos_args[0]);
    check(uhttpd_server_serve(self->engine, optional_str(args[0].u_obj), optional_str(args[1].u_obj),
        args[2].u_bool, args[3].u_bool));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(server_serve_obj, 1, server_serve);

static mp_obj_t server_receive(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed[] = {
        { MP_QSTR_dynamic, MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_prefix, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_extonly, MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_delete, MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    server_obj_t *self = open_server(pos_args[0]);
    check(uhttpd_server_receive(self->engine, args[0].u_bool, optional_str(args[1].u_obj),
        args[2].u_bool, args[3].u_bool));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(server_receive_obj, 1, server_receive);

static mp_obj_t server_file_acl(mp_obj_t self_in, mp_obj_t callback) {
    server_obj_t *self = open_server(self_in);
    check_callable(callback, "file_acl callback");
    check(uhttpd_server_file_acl(self->engine, hold(self, callback)));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(server_file_acl_obj, server_file_acl);

static mp_obj_t server_event(mp_obj_t self_in, mp_obj_t url) {
    server_obj_t *self = open_server(self_in);
    check(uhttpd_server_event(self->engine, mp_obj_str_get_str(url)));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(server_event_obj, server_event);

static mp_obj_t server_dispatch(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed[] = {
        { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_event, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    server_obj_t *self = open_server(pos_args[0]);
    mp_buffer_info_t data;
    get_data(args[0].u_obj, &data);
    bool delivered = false;
    check(uhttpd_server_dispatch(self->engine, data.buf, data.len, optional_str(args[1].u_obj), &delivered));
    return mp_obj_new_bool(delivered);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(server_dispatch_obj, 2, server_dispatch);

static mp_obj_t server_ws(size_t n_args, const mp_obj_t *args) {
    server_obj_t *self = open_server(args[0]);
    const char *pwd = n_args > 2 ? optional_str(args[2]) : NULL;
    check(uhttpd_server_ws(self->engine, mp_obj_str_get_str(args[1]), pwd));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(server_ws_obj, 2, 3, server_ws);

static void stats_item(mp_obj_t dict, qstr key, uint64_t value) {
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(key), mp_obj_new_int_from_ull(value));
}

static mp_obj_t server_stats(mp_obj_t self_in) {
    uhttpd_stats stats;
    check(uhttpd_server_stats(open_server(self_in)->engine, &stats));
    mp_obj_t status = mp_obj_new_dict(5);
    for (size_t i = 0; i < 5; i++) {
        const char name[3] = { (char)('1' + i), 'x', 'x' };
        mp_obj_dict_store(status, mp_obj_new_str(name, 3), mp_obj_new_int_from_ull(stats.status[i]));
    }
    mp_obj_t dict = mp_obj_new_dict(8);
    stats_item(dict, MP_QSTR_connections, stats.connections);
    stats_item(dict, MP_QSTR_event_clients, stats.event_clients);
    stats_item(dict, MP_QSTR_repl_sessions, stats.repl_sessions);
    stats_item(dict, MP_QSTR_requests, stats.requests);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_status), status);
    stats_item(dict, MP_QSTR_bytes_in, stats.bytes_in);
    stats_item(dict, MP_QSTR_bytes_out, stats.bytes_out);
    stats_item(dict, MP_QSTR_rss, stats.rss);
    return dict;
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_stats_obj, server_stats);

static mp_obj_t server_close(mp_obj_t self_in) {
    server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->engine != NULL && is_live(self)) {
        uhttpd_server_close(self->engine);
        forget(self);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_close_obj, server_close);

// Collected only once closed and unreachable (running servers are live).
static mp_obj_t server_del(mp_obj_t self_in) {
    server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->engine != NULL && !is_live(self)) {
        uhttpd_server_free(self->engine);
        self->engine = NULL;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_del_obj, server_del);

static mp_obj_t server_enter(mp_obj_t self_in) {
    return self_in;
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_enter_obj, server_enter);

static mp_obj_t server_exit(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    server_close(args[0]);
    return mp_const_false;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(server_exit_obj, 4, 4, server_exit);

static void server_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    uint16_t port;
    if (self->engine == NULL || uhttpd_server_closed(self->engine)
        || uhttpd_server_port(self->engine, &port) != UHTTPD_OK) {
        mp_print_str(print, "<uhttpd.Server closed>");
    } else {
        mp_printf(print, "<uhttpd.Server port=%u>", port);
    }
}

static const mp_rom_map_elem_t server_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&server_del_obj) },
    { MP_ROM_QSTR(MP_QSTR_port), MP_ROM_PTR(&server_port_obj) },
    { MP_ROM_QSTR(MP_QSTR_route), MP_ROM_PTR(&server_route_obj) },
    { MP_ROM_QSTR(MP_QSTR_serve), MP_ROM_PTR(&server_serve_obj) },
    { MP_ROM_QSTR(MP_QSTR_receive), MP_ROM_PTR(&server_receive_obj) },
    { MP_ROM_QSTR(MP_QSTR_file_acl), MP_ROM_PTR(&server_file_acl_obj) },
    { MP_ROM_QSTR(MP_QSTR_event), MP_ROM_PTR(&server_event_obj) },
    { MP_ROM_QSTR(MP_QSTR_dispatch), MP_ROM_PTR(&server_dispatch_obj) },
    { MP_ROM_QSTR(MP_QSTR_ws), MP_ROM_PTR(&server_ws_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&server_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&server_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&server_enter_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&server_exit_obj) },
};
static MP_DEFINE_CONST_DICT(server_locals, server_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    uhttpd_server_type,
    MP_QSTR_Server,
    MP_TYPE_FLAG_NONE,
    make_new, server_make_new,
    print, server_print,
    locals_dict, &server_locals
    );

// ---- the module -----------------------------------------------------------

static const mp_rom_map_elem_t uhttpd_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_uhttpd) },
    { MP_ROM_QSTR(MP_QSTR_Server), MP_ROM_PTR(&uhttpd_server_type) },
    { MP_ROM_QSTR(MP_QSTR_Request), MP_ROM_PTR(&uhttpd_request_type) },
    { MP_ROM_QSTR(MP_QSTR_GET), MP_ROM_INT(UHTTPD_GET) },
    { MP_ROM_QSTR(MP_QSTR_POST), MP_ROM_INT(UHTTPD_POST) },
    { MP_ROM_QSTR(MP_QSTR_DELETE), MP_ROM_INT(UHTTPD_DELETE) },
    { MP_ROM_QSTR(MP_QSTR_PUT), MP_ROM_INT(UHTTPD_PUT) },
    { MP_ROM_QSTR(MP_QSTR_PATCH), MP_ROM_INT(UHTTPD_PATCH) },
    { MP_ROM_QSTR(MP_QSTR_AUTH_OPEN), MP_ROM_INT(UHTTPD_AUTH_OPEN) },
    { MP_ROM_QSTR(MP_QSTR_AUTH_BASIC), MP_ROM_INT(UHTTPD_AUTH_BASIC) },
    { MP_ROM_QSTR(MP_QSTR_AUTH_CUSTOM), MP_ROM_INT(UHTTPD_AUTH_CUSTOM) },
    { MP_ROM_QSTR(MP_QSTR_ACL_RO), MP_ROM_INT(UHTTPD_ACL_RO) },
    { MP_ROM_QSTR(MP_QSTR_ACL_WO), MP_ROM_INT(UHTTPD_ACL_WO) },
    { MP_ROM_QSTR(MP_QSTR_ACL_RW), MP_ROM_INT(UHTTPD_ACL_RW) },
};
static MP_DEFINE_CONST_DICT(uhttpd_globals, uhttpd_globals_table);

const mp_obj_module_t uhttpd_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&uhttpd_globals,
};

MP_REGISTER_MODULE(MP_QSTR_uhttpd, uhttpd_module);
