/* The uhttpd engine behind a C ABI, for a face written in C (MicroPython's
 * user C module). The engine decides every HTTP and API rule; a face
 * converts its VM's values to these arguments and back.
 *
 * Errors: a function returning `int` returns UHTTPD_OK or the kind of
 * exception to raise; uhttpd_error_message() then gives its text (and
 * uhttpd_error_errno() the errno of an UHTTPD_OS_ERROR), for this thread.
 *
 * Threads: the engine starts every thread that runs host code through
 * `uhttpd_host.spawn`, and calls host code holding the VM lock (taken with
 * `enter`, let go with `leave`); it lets go of the lock whenever it waits.
 */
#ifndef UHTTPD_H
#define UHTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The seed's constants (the crate's tests check them against the engine). */
#define UHTTPD_GET 1
#define UHTTPD_POST 2
#define UHTTPD_DELETE 4
#define UHTTPD_PUT 8
#define UHTTPD_PATCH 16
#define UHTTPD_AUTH_OPEN 0
#define UHTTPD_AUTH_BASIC 1
#define UHTTPD_AUTH_CUSTOM 2
#define UHTTPD_ACL_RO 1
#define UHTTPD_ACL_WO 2
#define UHTTPD_ACL_RW 3

enum uhttpd_error_kind {
    UHTTPD_OK = 0,
    UHTTPD_VALUE_ERROR = 1,
    UHTTPD_TYPE_ERROR = 2,
    UHTTPD_RUNTIME_ERROR = 3,
    UHTTPD_OS_ERROR = 4,
};

/* What a callback's value was, for the engine's rules. */
enum uhttpd_verdict_kind {
    UHTTPD_VERDICT_RAISED = 0,   /* the callback raised */
    UHTTPD_VERDICT_INT = 1,      /* an int that fits in *verdict */
    UHTTPD_VERDICT_BIG_INT = 2,  /* an int too large for int64_t */
    UHTTPD_VERDICT_FALSY = 3,    /* anything else, false */
    UHTTPD_VERDICT_TRUTHY = 4,   /* anything else, true */
};

typedef struct uhttpd_server uhttpd_server;
typedef struct uhttpd_request uhttpd_request;

/* Receives bytes the engine hands out; they are valid during the call. */
typedef void (*uhttpd_sink)(void *ctx, const uint8_t *data, size_t len);
/* Receives a (key, value) pair; `bare` is a query key without `=`. */
typedef void (*uhttpd_pair_sink)(void *ctx, const uint8_t *key, size_t key_len,
                                 const uint8_t *value, size_t value_len, bool bare);

typedef struct uhttpd_host {
    /* Starts a thread the VM knows, running work(arg); 0 or an errno. */
    int (*spawn)(void (*work)(void *), void *arg);
    /* Takes / lets go of the VM lock on the calling thread. */
    void (*enter)(void);
    void (*leave)(void);
    /* A route's callback for a request (called holding the VM lock). The
     * face owns `request` and frees it with uhttpd_request_free(). */
    void (*handle)(void *callback, uhttpd_request *request);
    /* AUTH_CUSTOM: the callback's value for a headers-only request; an int
     * is also shown (its repr) for the log. */
    int (*authenticate)(void *callback, uhttpd_request *request, int64_t *verdict,
                        uhttpd_sink shown, void *ctx);
    /* file_acl(path): the callback's value. */
    int (*file_acl)(void *callback, const char *path, size_t len, int64_t *verdict);
    /* The REPL (called holding the VM lock, on the REPL's executor thread). */
    void (*repl_attach)(void);
    void (*repl_detach)(void);
    /* Whether `source` is an unfinished statement needing more lines. */
    bool (*repl_continues)(const char *source, size_t len);
    /* Runs `source` in __main__ (`file`: a whole block or program, else a
     * line whose value is printed). A traceback goes to `error` when given,
     * else to the console; true when it raised. */
    bool (*repl_exec)(const char *source, size_t len, bool file, uhttpd_sink error, void *ctx);
    /* Raises KeyboardInterrupt in the code repl_exec runs (no VM lock held). */
    void (*repl_interrupt)(void);
    /* The line Ctrl-B shows. */
    void (*repl_banner)(uhttpd_sink sink, void *ctx);
} uhttpd_host;

/* Once, before anything else: the host's entry points. */
void uhttpd_init(const uhttpd_host *host);

const char *uhttpd_error_message(void);
int uhttpd_error_errno(void);
/* Sets a TypeError "<what>, got <type_name>" (a value of the wrong type). */
int uhttpd_wrong_type(const char *what, const char *type_name);

/* ---- Server ---------------------------------------------------------- */

enum uhttpd_auth_kind {
    UHTTPD_AUTH_ABSENT = 0,
    UHTTPD_AUTH_CALLBACK = 1,  /* auth_callback */
    UHTTPD_AUTH_VALUE = 2,     /* auth_value, auth_value_len */
    UHTTPD_AUTH_OTHER = 3,     /* auth_type_name */
};

enum uhttpd_routes_kind {
    UHTTPD_ROUTES_DEFAULT = 0,
    UHTTPD_ROUTES_SLOTS = 1,   /* routes_slots */
    UHTTPD_ROUTES_TABLE = 2,   /* table, table_len */
};

typedef struct uhttpd_route {
    const char *url;
    int64_t methods;
    void *callback;
} uhttpd_route;

typedef struct uhttpd_config {
    int64_t port;
    int64_t acl;
    bool cors;
    int routes_kind;
    int64_t routes_slots;
    const uhttpd_route *table;
    size_t table_len;
    int auth_kind;
    void *auth_callback;
    const uint8_t *auth_value;
    size_t auth_value_len;
    const char *auth_type_name;
    int64_t events;
    const char *host;     /* NULL: all interfaces */
    const char *root;     /* NULL: the current directory */
    const char *ext;      /* NULL: no external mount */
    bool has_workers;
    int64_t workers;
} uhttpd_config;

int uhttpd_server_new(const uhttpd_config *config, uhttpd_server **server);
/* Closes (if still open) and frees. */
void uhttpd_server_free(uhttpd_server *server);
/* Stops the server; the port is closed when this returns. Idempotent. */
void uhttpd_server_close(uhttpd_server *server);
bool uhttpd_server_closed(uhttpd_server *server);
int uhttpd_server_port(uhttpd_server *server, uint16_t *port);
int uhttpd_server_route(uhttpd_server *server, const char *url, int64_t methods, void *callback);
int uhttpd_server_serve(uhttpd_server *server, const char *prefix, const char *base, bool dirs, bool ext);
int uhttpd_server_receive(uhttpd_server *server, bool dynamic, const char *prefix, bool extonly, bool delete_);
int uhttpd_server_file_acl(uhttpd_server *server, void *callback);
int uhttpd_server_event(uhttpd_server *server, const char *url);
int uhttpd_server_dispatch(uhttpd_server *server, const uint8_t *data, size_t len,
                           const char *event, bool *delivered);
/* The WebREPL at `url`; `password` NULL leaves it open. */
int uhttpd_server_ws(uhttpd_server *server, const char *url, const char *password);

/* The server's counters now (Server.stats()): open now, since start, and
 * the process's resident memory in bytes (0 where unknown). */
typedef struct uhttpd_stats {
    uint64_t connections;
    uint64_t event_clients;
    uint64_t repl_sessions;   /* 0 or 1: a client logged in to the REPL */
    uint64_t requests;        /* finished, with or without a reply */
    uint64_t status[5];       /* replies by class: [0] 1xx ... [4] 5xx */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t rss;
} uhttpd_stats;

int uhttpd_server_stats(uhttpd_server *server, uhttpd_stats *stats);

/* ---- Request --------------------------------------------------------- */

enum uhttpd_status_kind {
    UHTTPD_STATUS_DEFAULT = 0,
    UHTTPD_STATUS_CODE = 1,   /* status_code */
    UHTTPD_STATUS_TEXT = 2,   /* status_text */
};

typedef struct uhttpd_header {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
} uhttpd_header;

typedef struct uhttpd_reply {
    int status_kind;
    int64_t status_code;
    const uint8_t *status_text;
    size_t status_text_len;
    const uint8_t *mime;  /* NULL: the default */
    size_t mime_len;
    const uhttpd_header *headers;
    size_t header_count;
    bool allow_cors;
} uhttpd_reply;

/* The request as an AUTH_CUSTOM callback sees it, or after the callback. */
bool uhttpd_request_authenticating(const uhttpd_request *request);
uint32_t uhttpd_request_method(const uhttpd_request *request);
const char *uhttpd_request_uri(const uhttpd_request *request, size_t *len);
const char *uhttpd_request_path(const uhttpd_request *request, size_t *len);
int64_t uhttpd_request_length(const uhttpd_request *request);
/* The first value of `key`: false if absent. */
bool uhttpd_request_query(const uhttpd_request *request, const uint8_t *key, size_t key_len,
                          uhttpd_pair_sink sink, void *ctx);
void uhttpd_request_parse_qs(const uhttpd_request *request, uhttpd_pair_sink sink, void *ctx);
bool uhttpd_request_header(const uhttpd_request *request, const char *name, uhttpd_sink sink, void *ctx);
void uhttpd_request_headers(const uhttpd_request *request, uhttpd_pair_sink sink, void *ctx);
uint16_t uhttpd_request_remote(const uhttpd_request *request, uhttpd_sink ip, void *ctx);
/* "<uhttpd.Request GET /path>" */
void uhttpd_request_repr(const uhttpd_request *request, uhttpd_sink sink, void *ctx);
/* "the handler for GET /path", as log lines name the callback. */
void uhttpd_request_handler_name(const uhttpd_request *request, uhttpd_sink sink, void *ctx);

/* Body and reply; they may wait for the client (with the VM lock let go). */
int uhttpd_request_read(uhttpd_request *request, int64_t len, uhttpd_sink sink, void *ctx);
int uhttpd_request_readinto(uhttpd_request *request, uint8_t *buffer, size_t room, size_t *read);
int uhttpd_request_write(uhttpd_request *request, const uint8_t *data, size_t len, const uhttpd_reply *reply);
/* data NULL ends the chunked reply. */
int uhttpd_request_send_chunk(uhttpd_request *request, const uint8_t *data, size_t len, const uhttpd_reply *reply);
int uhttpd_request_send(uhttpd_request *request, const uint8_t *data, size_t len);

/* The callback returned (`raised`: with an exception): the engine answers
 * what it left unanswered (500 when it raised before replying). */
void uhttpd_request_finish(uhttpd_request *request, bool raised);
void uhttpd_request_free(uhttpd_request *request);

/* ---- REPL output ----------------------------------------------------- */

/* What the program prints (the face's dupterm stream): on the REPL's own
 * thread the session waits for it; from other threads it is dropped
 * rather than delayed when the client lags. */
void uhttpd_repl_output(const uint8_t *data, size_t len);

#endif
