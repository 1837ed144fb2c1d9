// 06_sigio/sigio_stdin.cpp: the first signal-driven I/O slide, runnable: the kernel sends SIGIO when stdin
// has input, the handler only sets `gotSigio`, and the main loop, busy with its own work (counting `cnt`),
// reads all the input there is whenever the flag is set, until a `#`.
//
// Mirrors: the network programming lecture (server design), "Signal-Driven I/O Model": the three steps
// (a SIGIO handler, fcntl F_SETOWN, F_SETFL with O_ASYNC | O_NONBLOCK) and the loop printing
// `cnt=%d; read %c` (TLPI's demo_sigio.c). The handler only sets a flag (volatile sig_atomic_t), as on
// this slide; the later slides' handlers that call printf are the thing not to do (see server.cpp).
// Two differences from the slide, both on purpose:
//  - the flag is cleared before reading, not after: a SIGIO that arrives once read() has said EAGAIN but
//    before the flag is cleared would be lost, and its input would wait for the next keystroke;
//  - reading stops at the `#` itself: the slide's `read(...) > 0 && !done` reads one character past it.
// Input that came before O_ASYNC was on raised no signal, so the loop looks once at the start.
//
// Run it:
//   ./sigio_stdin                              type; each key is read as it is typed (the terminal is put
//                                              in cbreak mode, and restored at the end); # ends
//   (echo hello; sleep 1; echo 'bye#') | ./sigio_stdin      a pipe works too (O_ASYNC on its read end)
// See also: server.cpp (realtime signals, one per event, for many descriptors).
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <string>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace {

volatile sig_atomic_t gotSigio = 0;    // set by the handler: input may be available
volatile sig_atomic_t sigioCount = 0;  // how many SIGIOs came (only the handler writes it)
volatile sig_atomic_t stopSignal = 0;  // SIGINT, SIGTERM or SIGHUP: stop, restoring the terminal

void sigioHandler(int) {
    gotSigio = 1;
    sigioCount = sigioCount + 1;
}
void stopHandler(int signo) { stopSignal = signo; }

void install(int signo, void (*handler)(int)) {
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = handler;
    netutil::check(sigaction(signo, &sa, nullptr), "sigaction");
}

// Puts stdin back as it was when the program ends: its file status flags (O_ASYNC, O_NONBLOCK: a terminal
// shares them with the shell, which would find its input non-blocking) and, for a terminal, its mode.
class StdinRestorer {
public:
    StdinRestorer() : flags_(netutil::check(fcntl(STDIN_FILENO, F_GETFL), "fcntl(F_GETFL)")) {
        terminal_ = tcgetattr(STDIN_FILENO, &mode_) == 0;
    }
    ~StdinRestorer() {
        fcntl(STDIN_FILENO, F_SETFL, flags_);
        if (terminal_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &mode_);
    }
    StdinRestorer(const StdinRestorer&) = delete;
    StdinRestorer& operator=(const StdinRestorer&) = delete;
    int flags() const { return flags_; }
    bool terminal() const { return terminal_; }

    // Cbreak mode (TLPI's ttySetCbreak): each key is delivered at once, not echoed; Ctrl-C still works.
    void set_cbreak() const {
        termios mode = mode_;
        mode.c_lflag &= ~tcflag_t(ICANON | ECHO);
        mode.c_cc[VMIN] = 1;
        mode.c_cc[VTIME] = 0;
        netutil::check(tcsetattr(STDIN_FILENO, TCSAFLUSH, &mode), "tcsetattr");
    }

private:
    int flags_;
    termios mode_{};
    bool terminal_ = false;
};

std::string shown(char ch) {
    if (ch == '\n') return "\\n";
    if (ch == '\t') return "\\t";
    if (ch >= ' ' && ch < 127) return std::string(1, ch);
    char code[8];
    std::snprintf(code, sizeof code, "\\x%02x", static_cast<unsigned char>(ch));
    return code;
}

// How the loop ended: the slide's `#`, the end of the input, or a stop signal (its number in stopSignal).
enum class Ending { Hash, EndOfInput, StopSignal };

std::string describe(Ending ending) {
    switch (ending) {
        case Ending::Hash: return "read #";
        case Ending::EndOfInput: return "end of input before #";
        case Ending::StopSignal: return "stopped by " + netutil::signal_name(stopSignal);
    }
    return "?";
}

// No options: --help says what the program does.
void parse_command_line(int argc, char** argv) {
    CLI::App app{
        "The first signal-driven I/O slide: SIGIO says stdin has input, the handler sets gotSigio, and\n"
        "the main loop (counting cnt as its own work) reads all available input, printing\n"
        "`cnt=N; read C` for each character, until a #. Type into it (a terminal is put in cbreak mode,\n"
        "so each key is read at once) or pipe into it."};
    netutil::parse_or_exit(app, argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
    parse_command_line(argc, argv);

    return netutil::run_main([&] {
        const StdinRestorer restore;  // destroyed last: stdin and the terminal are put back on every way out
        install(SIGINT, stopHandler);
        install(SIGTERM, stopHandler);
        if (!netutil::hangup_ignored()) install(SIGHUP, stopHandler);  // netutil's rule: under nohup it stays ignored

        // Establish handler for "I/O possible" signal
        install(SIGIO, sigioHandler);
        // Set owner process that is to receive "I/O possible" signal
        netutil::check(fcntl(STDIN_FILENO, F_SETOWN, getpid()), "fcntl(F_SETOWN)");
        // Enable "I/O possible" signaling and make I/O nonblocking for file descriptor
        netutil::check(fcntl(STDIN_FILENO, F_SETFL, restore.flags() | O_ASYNC | O_NONBLOCK), "fcntl(F_SETFL)");
        if (restore.terminal()) restore.set_cbreak();
        const std::string kind = restore.terminal() ? "a terminal, in cbreak mode" : "not a terminal";
        netutil::print_line("stdin (" + kind +
                            ") raises SIGIO when input arrives; the main loop counts meanwhile;"
                            " # ends");

        gotSigio = 1;  // input that came before O_ASYNC raised no signal: look once
        std::optional<Ending> ending;
        long characters = 0;
        for (long cnt = 0; !ending; cnt++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the main program's own work
            if (stopSignal) {
                ending = Ending::StopSignal;
                break;
            }
            if (gotSigio) {  // Is input available?
                gotSigio = 0;
                // Read all available input until error (probably EAGAIN), end of input or a # character
                char ch = 0;
                while (!ending) {
                    const ssize_t n = read(STDIN_FILENO, &ch, 1);
                    if (n == -1 && errno == EINTR) continue;
                    if (n == -1 && errno == EAGAIN) break;
                    if (n == -1) netutil::throw_errno("read stdin");
                    if (n == 0) {
                        ending = Ending::EndOfInput;
                        break;
                    }
                    ++characters;
                    netutil::print_line("cnt=" + std::to_string(cnt) + "; read " + shown(ch));
                    if (ch == '#') ending = Ending::Hash;
                }
            }
        }
        netutil::print_line("done (" + describe(*ending) + "): " + std::to_string(characters) + " characters read, " +
                            std::to_string(sigioCount) + " SIGIO signals taken");
        return 0;
    });
}
