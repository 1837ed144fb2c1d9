/* grading/sigsafe.c: the LD_PRELOAD shim of assignment 06.1's stage "nothing unsafe in a signal handler".

   Built by the grader (cc -shared -fPIC -o sigsafe.so sigsafe.c -ldl) and preloaded into the server with
   SIGSAFE_REPORT=FILE in its environment. It wraps every handler the program installs with sigaction() or
   signal(): while a handler runs, a call to a function that is not async-signal-safe (signal-safety(7)): the
   stdio family (printf, puts, fwrite, fflush, ... and their _chk forms) and the allocator (malloc, free,
   calloc, realloc; C++'s new and std::string reach them too) is recorded. The program itself runs exactly
   as without the shim: every call is passed on.

   FILE receives, with open/write/close only (themselves async-signal-safe), the lines
       handler SIGNO                 the first time a handler of signal SIGNO runs
       unsafe FUNCTION SIGNO         a call of FUNCTION inside the handler of SIGNO (the first 20 calls)
   A program that takes its signals with sigwaitinfo() has no handler: the file stays empty. What the shim
   cannot see: a statically linked program, and calls inside libc that do not go through its exported
   symbols (printf called by the program is seen; printf's own malloc is not needed: printf is). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIGNAL 65

static struct {
    void (*handler)(int);
    void (*action)(int, siginfo_t*, void*);
    int siginfo;
} installed[MAX_SIGNAL];

static __thread int in_handler; /* signal number of the innermost handler running, 0: none */
static volatile int reported_handler[MAX_SIGNAL];
static volatile int unsafe_reports;

static void report(const char* text, int signo) {
    const char* path = getenv("SIGSAFE_REPORT"); /* reads environ only: no allocation, no lock */
    if (path == NULL || *path == '\0') return;
    char line[128];
    size_t n = 0;
    for (const char* p = text; *p != '\0' && n < sizeof line - 16; ++p) line[n++] = *p;
    line[n++] = ' ';
    char digits[12];
    int d = 0;
    unsigned value = (unsigned)signo;
    do {
        digits[d++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (d > 0) line[n++] = digits[--d];
    line[n++] = '\n';
    const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) return;
    ssize_t written = write(fd, line, n);
    (void)written;
    close(fd);
}

static void unsafe(const char* function) {
    const int signo = in_handler;
    if (signo == 0) return;
    if (__atomic_add_fetch(&unsafe_reports, 1, __ATOMIC_RELAXED) > 20) return;
    char text[64] = "unsafe ";
    strncat(text, function, sizeof text - 8);
    report(text, signo);
}

static void wrapper(int signo, siginfo_t* info, void* context) {
    const int outer = in_handler;
    in_handler = signo;
    if (signo > 0 && signo < MAX_SIGNAL && !reported_handler[signo]) {
        reported_handler[signo] = 1;
        report("handler", signo);
    }
    if (signo > 0 && signo < MAX_SIGNAL) {
        if (installed[signo].siginfo && installed[signo].action != NULL)
            installed[signo].action(signo, info, context);
        else if (!installed[signo].siginfo && installed[signo].handler != NULL)
            installed[signo].handler(signo);
    }
    in_handler = outer;
}

static int is_function(void (*h)(int)) { return h != SIG_DFL && h != SIG_IGN && h != SIG_ERR && h != NULL; }

typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);

int sigaction(int signo, const struct sigaction* act, struct sigaction* oldact) {
    static sigaction_fn real;
    if (real == NULL) real = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    const int tracked = signo > 0 && signo < MAX_SIGNAL;
    const int was_wrapped = tracked && (installed[signo].handler != NULL || installed[signo].action != NULL);
    struct sigaction mine;
    const struct sigaction* given = act;
    int wrap = 0;
    if (act != NULL && tracked) {
        const int siginfo = (act->sa_flags & SA_SIGINFO) != 0;
        void (*as_handler)(int) = siginfo ? (void (*)(int))(void (*)(void))act->sa_sigaction : act->sa_handler;
        if (is_function(as_handler)) {
            mine = *act;
            mine.sa_flags |= SA_SIGINFO;
            mine.sa_sigaction = wrapper;
            given = &mine;
            wrap = 1;
        }
    }
    typeof(installed[0]) before = {0};
    if (tracked) before = installed[signo];
    const int rc = real(signo, given, oldact);
    if (rc == 0 && act != NULL && tracked) {
        if (wrap) {
            installed[signo].siginfo = (act->sa_flags & SA_SIGINFO) != 0;
            installed[signo].handler = installed[signo].siginfo ? NULL : act->sa_handler;
            installed[signo].action = installed[signo].siginfo ? act->sa_sigaction : NULL;
        } else {
            installed[signo].handler = NULL;
            installed[signo].action = NULL;
        }
    }
    if (rc == 0 && oldact != NULL && was_wrapped && oldact->sa_sigaction == wrapper) {
        /* the program sees its own handler, as it installed it */
        if (before.siginfo) {
            oldact->sa_sigaction = before.action;
        } else {
            oldact->sa_flags &= ~SA_SIGINFO;
            oldact->sa_handler = before.handler;
        }
    }
    return rc;
}

sighandler_t signal(int signo, sighandler_t handler) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART; /* glibc's signal(): BSD semantics */
    if (sigaction(signo, &act, &old) == -1) return SIG_ERR;
    return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void (*)(void))old.sa_sigaction : old.sa_handler;
}

/* The allocator: glibc exports its own entry points, so no dlsym (which may allocate) is needed. */
extern void* __libc_malloc(size_t);
extern void __libc_free(void*);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);

void* malloc(size_t size) {
    unsafe("malloc");
    return __libc_malloc(size);
}
void free(void* p) {
    if (p != NULL) unsafe("free");
    __libc_free(p);
}
void* calloc(size_t n, size_t size) {
    unsafe("calloc");
    return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
    unsafe("realloc");
    return __libc_realloc(p, size);
}

/* stdio: recorded, then passed on to the real function. */
typedef int (*vfprintf_fn)(FILE*, const char*, va_list);
typedef int (*vfprintf_chk_fn)(FILE*, int, const char*, va_list);
typedef int (*puts_fn)(const char*);
typedef int (*fputs_fn)(const char*, FILE*);
typedef size_t (*fwrite_fn)(const void*, size_t, size_t, FILE*);
typedef int (*putchar_fn)(int);
typedef int (*fputc_fn)(int, FILE*);
typedef int (*fflush_fn)(FILE*);
typedef void (*perror_fn)(const char*);
#define NEXT(type, name)     \
    static type real_##name; \
    if (real_##name == NULL) real_##name = (type)dlsym(RTLD_NEXT, #name)

int vfprintf(FILE* f, const char* format, va_list ap) {
    NEXT(vfprintf_fn, vfprintf);
    unsafe("vfprintf");
    return real_vfprintf(f, format, ap);
}
int vprintf(const char* format, va_list ap) {
    NEXT(vfprintf_fn, vfprintf);
    unsafe("vprintf");
    return real_vfprintf(stdout, format, ap);
}
int printf(const char* format, ...) {
    NEXT(vfprintf_fn, vfprintf);
    unsafe("printf");
    va_list ap;
    va_start(ap, format);
    const int rc = real_vfprintf(stdout, format, ap);
    va_end(ap);
    return rc;
}
int fprintf(FILE* f, const char* format, ...) {
    NEXT(vfprintf_fn, vfprintf);
    unsafe("fprintf");
    va_list ap;
    va_start(ap, format);
    const int rc = real_vfprintf(f, format, ap);
    va_end(ap);
    return rc;
}
int __vfprintf_chk(FILE* f, int flag, const char* format, va_list ap) {
    NEXT(vfprintf_chk_fn, __vfprintf_chk);
    unsafe("__vfprintf_chk");
    return real___vfprintf_chk(f, flag, format, ap);
}
int __printf_chk(int flag, const char* format, ...) {
    NEXT(vfprintf_chk_fn, __vfprintf_chk);
    unsafe("printf");
    va_list ap;
    va_start(ap, format);
    const int rc = real___vfprintf_chk(stdout, flag, format, ap);
    va_end(ap);
    return rc;
}
int __fprintf_chk(FILE* f, int flag, const char* format, ...) {
    NEXT(vfprintf_chk_fn, __vfprintf_chk);
    unsafe("fprintf");
    va_list ap;
    va_start(ap, format);
    const int rc = real___vfprintf_chk(f, flag, format, ap);
    va_end(ap);
    return rc;
}
int puts(const char* s) {
    NEXT(puts_fn, puts);
    unsafe("puts");
    return real_puts(s);
}
int fputs(const char* s, FILE* f) {
    NEXT(fputs_fn, fputs);
    unsafe("fputs");
    return real_fputs(s, f);
}
size_t fwrite(const void* p, size_t size, size_t n, FILE* f) {
    NEXT(fwrite_fn, fwrite);
    unsafe("fwrite");
    return real_fwrite(p, size, n, f);
}
int putchar(int c) {
    NEXT(putchar_fn, putchar);
    unsafe("putchar");
    return real_putchar(c);
}
int fputc(int c, FILE* f) {
    NEXT(fputc_fn, fputc);
    unsafe("fputc");
    return real_fputc(c, f);
}
int putc(int c, FILE* f) {
    NEXT(fputc_fn, putc);
    unsafe("putc");
    return real_putc(c, f);
}
int fflush(FILE* f) {
    NEXT(fflush_fn, fflush);
    unsafe("fflush");
    return real_fflush(f);
}
void perror(const char* s) {
    NEXT(perror_fn, perror);
    unsafe("perror");
    real_perror(s);
}
