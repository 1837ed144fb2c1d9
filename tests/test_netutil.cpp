// Unit tests of netutil, the one shared helper: descriptors, sockets, exact I/O, lines, signals, CPU time, CLI,
// and the text pieces of the line protocols' parsers.
//
// Slides: none; netutil is the kit's own helper library (sockets, descriptors, signals) that the labs share.
#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/fd.hpp"
#include "netutil/io.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"
#include "netutil/uring.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace netutil;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

std::pair<UniqueFd, UniqueFd> socket_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

TEST(UniqueFd, ClosesOnceAndMovesOwnership) {
    int raw = ::dup(STDERR_FILENO);
    {
        UniqueFd first(raw);
        UniqueFd second(std::move(first));
        EXPECT_FALSE(first.valid());
        EXPECT_EQ(second.get(), raw);
        UniqueFd third;
        third = std::move(second);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseGivesUpAndResetKeepsErrno) {
    UniqueFd owner(::dup(STDERR_FILENO));
    const int raw = owner.release();
    EXPECT_FALSE(owner);
    EXPECT_TRUE(is_open(raw));
    owner.reset(raw);
    errno = ENOSPC;
    owner.reset();
    EXPECT_EQ(errno, ENOSPC);
    EXPECT_FALSE(is_open(raw));
}

TEST(Socket, ListenOnPortZeroReadsTheBoundPortBackOnIpv4AndIpv6) {
    for (const std::string address : {"127.0.0.1", "::1", "0.0.0.0"}) {
        const UniqueFd listener = tcp_listen(address, 0);
        const SockAddr bound = local_address(listener.get());
        EXPECT_NE(bound.port(), 0) << address;
        EXPECT_EQ(bound.host(), address);
        const std::string expected = address.find(':') != std::string::npos
                                         ? "[" + address + "]:" + std::to_string(bound.port())
                                         : address + ":" + std::to_string(bound.port());
        EXPECT_EQ(bound.to_string(), expected);
    }
}

TEST(Socket, ConnectAndAcceptSeeEachOther) {
    const UniqueFd listener = tcp_listen("::1", 0);
    const uint16_t port = local_address(listener.get()).port();
    const UniqueFd client = tcp_connect("::1", port);
    SockAddr peer;
    const UniqueFd accepted = accept_client(listener.get(), &peer);
    ASSERT_TRUE(accepted);
    EXPECT_EQ(peer.port(), local_address(client.get()).port());
    EXPECT_EQ(peer_address(client.get()).port(), port);
    EXPECT_NE(::fcntl(accepted.get(), F_GETFD) & FD_CLOEXEC, 0) << "accepted sockets are close-on-exec";
    EXPECT_EQ(::fcntl(client.get(), F_GETFL) & O_NONBLOCK, 0) << "tcp_connect returns a blocking socket";
}

// The servers' default: one socket for IPv6 and IPv4. An IPv4 client arrives IPv4-mapped and is shown
// as plain IPv4; a client of either family connects; an IPv4 listener on the same port is refused.
TEST(Socket, TheDefaultAddressIsDualStackAndShowsIpv4ClientsAsIpv4) {
    const UniqueFd listener = tcp_listen(kAnyAddress, 0);
    const SockAddr bound = local_address(listener.get());
    EXPECT_EQ(bound.to_string(), "[::]:" + std::to_string(bound.port()));
    for (const std::string client_address : {"127.0.0.1", "::1"}) {
        const UniqueFd client = tcp_connect(client_address, bound.port());
        SockAddr peer;
        const UniqueFd accepted = accept_client(listener.get(), &peer);
        ASSERT_TRUE(accepted);
        EXPECT_EQ(peer.host(), client_address);
        EXPECT_EQ(peer.to_string(), join_host_port(client_address, local_address(client.get()).port()));
    }
    EXPECT_THROW(tcp_listen("0.0.0.0", bound.port()), std::system_error) << "the IPv4 side of the port is taken too";
    const UniqueFd udp = udp_bind(kAnyAddress, 0);
    EXPECT_EQ(local_address(udp.get()).host(), "::");
}

// A name with several addresses: each is tried until one connects (here ::1 is refused, 127.0.0.1 is not).
TEST(Socket, ConnectTriesEveryAddressInTurn) {
    const UniqueFd listener = tcp_listen("127.0.0.1", 0);
    const uint16_t port = local_address(listener.get()).port();
    std::vector<SockAddr> addresses = resolve_all("::1", port);
    const std::vector<SockAddr> ipv4 = resolve_all("127.0.0.1", port);
    addresses.insert(addresses.end(), ipv4.begin(), ipv4.end());
    size_t used = 99;
    const UniqueFd client = tcp_connect(addresses, "localhost", std::chrono::seconds(5), &used);
    EXPECT_EQ(used, addresses.size() - 1);
    EXPECT_EQ(peer_address(client.get()).host(), "127.0.0.1");
}

TEST(Socket, AcceptOnAnEmptyNonBlockingSocketReturnsNothing) {
    const UniqueFd listener = tcp_listen("127.0.0.1", 0);
    set_nonblocking(listener.get());
    EXPECT_FALSE(accept_client(listener.get()));
}

TEST(Socket, BindingABusyPortNamesTheAddress) {
    const UniqueFd first = tcp_listen("127.0.0.1", 0);
    const uint16_t port = local_address(first.get()).port();
    try {
        tcp_listen("127.0.0.1", port);
        FAIL() << "a second listener on the same port must fail";
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code().value(), EADDRINUSE);
        EXPECT_NE(std::string(error.what()).find("bind 127.0.0.1:" + std::to_string(port)), std::string::npos);
    }
}

TEST(Socket, ConnectionRefusedAndUnknownHostAreErrorsThatSayWhere) {
    uint16_t port;
    {
        const UniqueFd listener = tcp_listen("127.0.0.1", 0);
        port = local_address(listener.get()).port();
    }
    try {
        tcp_connect("127.0.0.1", port);
        FAIL();
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code().value(), ECONNREFUSED);
        EXPECT_NE(std::string(error.what()).find("connect to 127.0.0.1:" + std::to_string(port)), std::string::npos);
    }
    try {
        tcp_connect("no-such-host.invalid", 80);
        FAIL();
    } catch (const std::system_error& error) {
        EXPECT_STREQ(error.what(), "resolve no-such-host.invalid: Name or service not known");
    }
}

TEST(Socket, UdpDatagramsRoundTrip) {
    const UniqueFd server = udp_bind("127.0.0.1", 0);
    const SockAddr to = local_address(server.get());
    const UniqueFd client = udp_socket(to);
    ASSERT_EQ(::sendto(client.get(), "ping", 4, 0, to.get(), to.length), 4);
    char buffer[16];
    SockAddr from;
    const ssize_t n = ::recvfrom(server.get(), buffer, sizeof buffer, 0, from.get(), &from.length);
    ASSERT_EQ(n, 4);
    EXPECT_EQ(std::string(buffer, 4), "ping");
    EXPECT_EQ(from.port(), local_address(client.get()).port());
}

TEST(Io, WriteAllSendsEveryByteOfALargePayload) {
    auto [reader, writer] = socket_pair();
    const std::string payload(8 << 20, 'x');
    std::string received;
    std::thread drain([&, fd = reader.get()] {
        char chunk[65536];
        while (const size_t n = read_some(fd, chunk, sizeof chunk)) received.append(chunk, n);
    });
    write_all(writer.get(), payload);
    writer.reset();
    drain.join();
    EXPECT_EQ(received.size(), payload.size());
}

TEST(Io, WriteAllToAVanishedPeerIsAnErrorNotSigpipe) {
    auto [reader, writer] = socket_pair();
    reader.reset();
    try {
        write_all(writer.get(), std::string(1 << 20, 'x'));
        FAIL() << "writing to a closed peer must fail";
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code().value(), EPIPE);  // and this process is still alive: no SIGPIPE
    }
}

// A handler thread's accept and recv, stoppable (01 and 02): a stop ends a wait for a client, a message
// ends at its newline, a long one is cut off, and a stop keeps only what came within the grace period.
TEST(Io, AcceptUnlessStoppedAcceptsAClientOrReturnsEmptyOnceStopped) {
    const UniqueFd listener = tcp_listen("127.0.0.1", 0);
    set_nonblocking(listener.get());
    const uint16_t port = local_address(listener.get()).port();
    StopPipe stop;
    const UniqueFd client = tcp_connect("127.0.0.1", port);
    SockAddr peer;
    const UniqueFd accepted = accept_unless_stopped(listener.get(), stop.fd(), &peer);
    ASSERT_TRUE(accepted);
    EXPECT_EQ(peer.port(), local_address(client.get()).port());
    stop.request_stop();
    EXPECT_FALSE(accept_unless_stopped(listener.get(), stop.fd(), &peer)) << "no client, and told to stop";
}

TEST(Io, ReceiveMessageEndsAtTheNewlineCutsOffLongOnesAndKeepsWhatCameBeforeAStop) {
    using std::chrono::milliseconds;
    StopPipe stop;
    {
        auto [server, client] = socket_pair();
        write_all(client.get(), "hello, world\r\nmore");
        const Message message = receive_message(server.get(), stop.fd(), milliseconds(0), 4, 100);
        EXPECT_EQ(message.status, Message::Status::Complete);
        EXPECT_EQ(message.text, "hello, world") << "read 4 bytes at a time, up to the newline, without \\r\\n";
    }
    {
        auto [server, client] = socket_pair();
        write_all(client.get(), "no newline, then the client closes");
        ::shutdown(client.get(), SHUT_WR);
        const Message message = receive_message(server.get(), stop.fd(), milliseconds(0), 80, 100);
        EXPECT_EQ(message.status, Message::Status::Complete);
        EXPECT_EQ(message.text, "no newline, then the client closes");
    }
    {
        auto [server, client] = socket_pair();
        write_all(client.get(), std::string(50, 'x') + "\n");
        const Message message = receive_message(server.get(), stop.fd(), milliseconds(0), 8, 20);
        EXPECT_EQ(message.status, Message::Status::CutOff);
        EXPECT_EQ(message.text, std::string(20, 'x'));
    }
    {
        auto [server, client] = socket_pair();
        write_all(client.get(), "half a mess");
        stop.request_stop();
        const Message message = receive_message(server.get(), stop.fd(), milliseconds(0), 80, 100);
        EXPECT_EQ(message.status, Message::Status::Stopped);
        EXPECT_EQ(message.text, "half a mess") << "what had already come is kept";
    }
}

TEST(Io, WriteAllWorksOnPipesToo) {
    int ends[2];
    ASSERT_EQ(::pipe(ends), 0);
    UniqueFd read_end(ends[0]), write_end(ends[1]);
    write_all(write_end.get(), "through a pipe");
    char buffer[32];
    EXPECT_EQ(read_some(read_end.get(), buffer, sizeof buffer), 14u);
}

TEST(Io, ReceiveTimeoutIsReportedAsTimedOut) {
    auto [reader, writer] = socket_pair();
    set_receive_timeout(reader.get(), std::chrono::milliseconds(20));
    char byte;
    try {
        read_some(reader.get(), &byte, 1);
        FAIL();
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code().value(), ETIMEDOUT);
    }
}

TEST(LineReader, SplitsLinesAcrossReadsAndStripsCarriageReturns) {
    auto [reader, writer] = socket_pair();
    write_all(writer.get(), "first\r\nsec");
    write_all(writer.get(), "ond\nthird");
    writer.reset();
    LineReader lines(reader.get(), 64);
    std::string line;
    ASSERT_EQ(lines.read_line(line), LineReader::Status::Line);
    EXPECT_EQ(line, "first");
    ASSERT_EQ(lines.read_line(line), LineReader::Status::Line);
    EXPECT_EQ(line, "second");
    ASSERT_EQ(lines.read_line(line), LineReader::Status::EofMidLine);
    EXPECT_EQ(line, "third");
    EXPECT_EQ(lines.read_line(line), LineReader::Status::Eof);
}

TEST(LineReader, RefusesLinesOverTheLimitButAcceptsOneExactlyAtIt) {
    auto [reader, writer] = socket_pair();
    write_all(writer.get(), std::string(8, 'a') + "\n" + std::string(9, 'b') + "\n");
    LineReader lines(reader.get(), 8);
    std::string line;
    ASSERT_EQ(lines.read_line(line), LineReader::Status::Line);
    EXPECT_EQ(line, std::string(8, 'a'));
    EXPECT_EQ(lines.read_line(line), LineReader::Status::TooLong);
}

TEST(LineReader, StopsWhenTheStopPipeIsReadableAndTimesOut) {
    auto [reader, writer] = socket_pair();
    const StopPipe stop;
    LineReader waiting(reader.get(), 64, stop.fd(), 10);
    std::string line;
    EXPECT_EQ(waiting.read_line(line), LineReader::Status::TimedOut);
    stop.request_stop();
    EXPECT_EQ(waiting.read_line(line), LineReader::Status::Stopped);
    EXPECT_EQ(wait_readable(reader.get(), stop.fd(), 0), Wait::Stopped);
}

// A forked child closes its copy of the write end; once no process holds one (the parent died), the pipe
// reads as closed, and that is a stop too. Here the only write end is this process's own.
TEST(Signals, AStopPipeWhoseWriteEndsAreAllClosedReadsAsStopped) {
    StopPipe stop;
    EXPECT_FALSE(stop.stop_requested());
    stop.close_write_end();
    EXPECT_TRUE(stop.stop_requested());
}

TEST(Signals, StopPipeStaysReadableForEveryWaiter) {
    const StopPipe stop;
    EXPECT_FALSE(stop.stop_requested());
    std::vector<std::thread> waiters;
    std::atomic<int> woken{0};
    for (int i = 0; i < 4; ++i)
        waiters.emplace_back([&] {
            if (wait_readable(stop.fd(), -1, 10000) == Wait::Ready) ++woken;
        });
    stop.request_stop();
    for (auto& waiter : waiters) waiter.join();
    EXPECT_EQ(woken.load(), 4);
    EXPECT_TRUE(stop.stop_requested());
}

// Sent to the process (as kill and Ctrl-C do), not to a thread: in the ThreadSanitizer build the signal
// thread of stop_on_signals takes it, in the others the handler.
TEST(Signals, StopOnSignalsWritesToThePipeFromTheHandler) {
    const StopPipe stop;
    stop_on_signals(stop, {SIGUSR1});
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
    EXPECT_EQ(wait_readable(stop.fd(), -1, 10000), Wait::Ready);
    EXPECT_TRUE(stop.stop_requested());
    EXPECT_EQ(caught_signal(), SIGUSR1);
    ::signal(SIGUSR1, SIG_DFL);
}

TEST(Signals, BlockedSignalsAreTakenSynchronously) {
    const sigset_t usr2 = signal_set({SIGUSR2});
    sigset_t old;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &old);
    block_signals(usr2);
    const UniqueFd fd = make_signalfd(usr2);
    ::raise(SIGUSR2);
    EXPECT_EQ(wait_readable(fd.get(), -1, 1000), Wait::Ready);
    signalfd_siginfo info{};
    EXPECT_EQ(read_some(fd.get(), &info, sizeof info), sizeof info);
    EXPECT_EQ(info.ssi_signo, static_cast<uint32_t>(SIGUSR2));
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    EXPECT_EQ(signal_name(SIGUSR2), "SIGUSR2");
}

TEST(Signals, ReapChildrenCollectsFinishedChildren) {
    const pid_t child = ::fork();
    ASSERT_NE(child, -1);
    if (child == 0) ::_exit(3);
    siginfo_t info{};
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);  // exited, not yet reaped
    const std::vector<ChildExit> reaped = reap_children();
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0].pid, child);
    EXPECT_EQ(describe_status(reaped[0].status), "exit 3");
    EXPECT_TRUE(reap_children().empty());
}

TEST(CpuTime, GrowsWithWorkAndFormatsBothParts) {
    const CpuTime before = cpu_time_self();
    const Stopwatch watch;
    volatile double sink = 0;
    while (cpu_time_self().user_seconds - before.user_seconds < 0.02)
        for (int i = 0; i < 100000; ++i) sink = sink + i;
    EXPECT_GT(watch.seconds(), 0.0);
    EXPECT_GE(cpu_time_total().total_seconds(), cpu_time_self().total_seconds() - 1e-6);
    const std::string text = format_cpu_time({1.5, 0.25});
    EXPECT_EQ(text, "user 1.500 s, system 0.250 s, total 1.750 s");
}

TEST(Error, CheckThrowsSystemErrorWithErrno) {
    errno = 0;
    EXPECT_EQ(check(5, "fine"), 5);
    try {
        check(::close(-1), "close -1");
        FAIL();
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code().value(), EBADF);
        EXPECT_EQ(std::string(error.what()).rfind("close -1: ", 0), 0u);
    }
}

TEST(Error, NotImplementedPrintsTheAssignmentAndItsReadmeAnchorAndExitsOne) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(not_implemented("08.1"), testing::ExitedWithCode(1),
                "^not implemented: assignment 08\\.1 \\(see 08_webclient/README\\.md#assignment-1\\)\n$");
    EXPECT_EXIT(not_implemented("01.2"), testing::ExitedWithCode(1),
                "^not implemented: assignment 01\\.2 \\(see 01_mtserver/README\\.md#assignment-2\\)\n$");
    EXPECT_EXIT(not_implemented("10.1"), testing::ExitedWithCode(1),
                "^not implemented: assignment 10\\.1 \\(see 10_pi_montecarlo/README\\.md#assignment-1\\)\n$");
    EXPECT_EQ(assignment_anchor("03.2"), "03_udp_mp/README.md#assignment-2");
    EXPECT_EQ(assignment_anchor("99.1"), "");
    EXPECT_EQ(assignment_anchor("08"), "");
}

// Two threads reaching a stub at once: one line, exit 1.
TEST(Error, NotImplementedFromTwoThreadsPrintsOneLine) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            std::thread other([] { not_implemented("01.1"); });
            not_implemented("01.1");
        },
        testing::ExitedWithCode(1),
        "^not implemented: assignment 01\\.1 \\(see 01_mtserver/README\\.md#assignment-1\\)\n$");
}

namespace {

void parse(std::vector<std::string> args) {
    CLI::App app{"test"};
    int port = 0;
    app.add_option("PORT", port)->check(kPortRange);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    parse_or_exit(app, static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST(Cli, UsageErrorsExitTwoWithOneLineAndHelpExitsZero) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(parse({"prog", "70000"}), testing::ExitedWithCode(2),
                "^prog: PORT: '70000' is not a port number \\(0 to 65535\\) \\(see --help\\)\n$");
    EXPECT_EXIT(parse({"prog", "--bogus"}), testing::ExitedWithCode(2),
                "^prog: '--bogus' is not an option \\(see --help\\)\n$");
    EXPECT_EXIT(parse({"prog", "--help"}), testing::ExitedWithCode(0), "");
    EXPECT_EXIT((parse({"prog", "1"}), std::exit(7)), testing::ExitedWithCode(7), "");
}

namespace {

enum class Schedule { Static, Dynamic };

// What a program with the kit's kinds of options makes of `args`: the usage line parse_or_exit would print
// (without `program: ` and ` (see --help)`), or "" when they parse; `schedule` and `mode` get the values.
std::string usage_line(std::vector<std::string> args, Schedule* schedule = nullptr, std::string* mode = nullptr) {
    CLI::App app{"test"};
    int port = 0;
    int nclients = 1;
    double timeout = 1;
    bool stop = false;
    Schedule parsed_schedule = Schedule::Static;
    std::string parsed_mode = "select";
    app.add_option("PORT", port, "port to listen on")->check(kPortRange);
    app.add_option("NCLIENTS", nclients, "number of clients")->check(whole_number(1, 256));
    app.add_option("--timeout", timeout, "seconds to wait\n(second line of help)")->check(real_number(0.1, 60.0));
    app.add_option("--schedule", parsed_schedule, "how columns are handed out")
        ->transform(one_of(std::vector<std::pair<std::string, Schedule>>{{"static", Schedule::Static},
                                                                         {"dynamic", Schedule::Dynamic}}));
    app.add_option("--mode", parsed_mode, "how to wait")->transform(one_of({"select", "poll", "epoll-et"}));
    app.add_option("--client-port", port, "a client's port")->check(port_number(1));
    app.add_flag("--stop", stop, "stop on 'stop'");
    args.insert(args.begin(), "prog");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& error) {
        return usage_message(app, error);
    }
    if (schedule != nullptr) *schedule = parsed_schedule;
    if (mode != nullptr) *mode = parsed_mode;
    return "";
}

}  // namespace

TEST(Cli, UsageMessagesNameTheOptionAndWhatItTakesInPlainWords) {
    EXPECT_EQ(usage_line({"abc"}), "PORT: 'abc' is not a port number (0 to 65535)");
    EXPECT_EQ(usage_line({"-1"}), "PORT: '-1' is not a port number (0 to 65535)");
    EXPECT_EQ(usage_line({"--client-port", "0"}), "--client-port: '0' is not a port number (1 to 65535)");
    EXPECT_EQ(usage_line({"0", "0"}), "NCLIENTS: '0' is not a whole number from 1 to 256");
    EXPECT_EQ(usage_line({"0", "1.5"}), "NCLIENTS: '1.5' is not a whole number from 1 to 256");
    EXPECT_EQ(usage_line({"--timeout", "0"}), "--timeout: '0' is not a number from 0.1 to 60");
    EXPECT_EQ(usage_line({"--timeout", "soon"}), "--timeout: 'soon' is not a number from 0.1 to 60");
    EXPECT_EQ(usage_line({"--schedule", "random"}), "--schedule: 'random' is not one of: static, dynamic");
    EXPECT_EQ(usage_line({"--mode", "kqueue"}), "--mode: 'kqueue' is not one of: select, poll, epoll-et");
    EXPECT_EQ(usage_line({"0", "1", "extra"}), "too many arguments: 'extra' (the arguments are PORT NCLIENTS)");
    EXPECT_EQ(usage_line({"0", "1", "x", "y"}), "too many arguments: 'x' 'y' (the arguments are PORT NCLIENTS)");
    EXPECT_EQ(usage_line({"--bogus"}), "'--bogus' is not an option");
    EXPECT_EQ(usage_line({"--bogus=3", "0"}), "'--bogus' is not an option");
    EXPECT_EQ(usage_line({"--timeout"}), "missing a value for --timeout: seconds to wait");
    EXPECT_EQ(usage_line({"--stop=maybe"}), "--stop is a switch: it takes no value");
}

TEST(Cli, ChoicesTakeAnyCaseAndBecomeTheListedName) {
    Schedule schedule = Schedule::Static;
    std::string mode;
    EXPECT_EQ(usage_line({"--schedule", "DYNAMIC", "--mode", "Epoll-ET"}, &schedule, &mode), "");
    EXPECT_EQ(schedule, Schedule::Dynamic);
    EXPECT_EQ(mode, "epoll-et");
    EXPECT_EQ(usage_line({"65535", "256", "--timeout", "0.1"}), "");
}

TEST(Cli, AMissingArgumentIsNamedWithWhatItIs) {
    CLI::App app{"test"};
    std::string file;
    app.add_option("FILE", file, "the file to read")->required();
    std::string program = "prog";
    char* argv[] = {program.data()};
    try {
        app.parse(1, argv);
        FAIL() << "FILE is required";
    } catch (const CLI::ParseError& error) {
        EXPECT_EQ(usage_message(app, error), "missing FILE: the file to read");
    }
}

TEST(Cli, RunMainTurnsSystemErrorsIntoStatusOne) {
    testing::internal::CaptureStderr();
    const int status = run_main([]() -> int { throw_error(ECONNREFUSED, "connect to x:1"); });
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(status, 1);
    EXPECT_NE(err.find("connect to x:1: Connection refused"), std::string::npos) << err;
    EXPECT_EQ(run_main([] { return 0; }), 0);
}

TEST(Text, CountPutsTheNounInThePluralUnlessTheNumberIsOne) {
    EXPECT_EQ(count(1, "datagram"), "1 datagram");
    EXPECT_EQ(count(0, "datagram"), "0 datagrams");
    EXPECT_EQ(count(size_t{3}, "thread"), "3 threads");
    EXPECT_EQ(count(1, "child", "children"), "1 child");
    EXPECT_EQ(count(uint64_t{2}, "child", "children"), "2 children");
    EXPECT_EQ(count(-1, "byte"), "-1 bytes");
}

TEST(Text, WordsSplitOnSingleSpacesAndKeepEmptyWords) {
    using V = std::vector<std::string_view>;
    EXPECT_EQ(words("JOB 3 1000 42"), (V{"JOB", "3", "1000", "42"}));
    EXPECT_EQ(words("BYE"), (V{"BYE"}));
    EXPECT_EQ(words(""), (V{""}));
    EXPECT_EQ(words("a  b"), (V{"a", "", "b"})) << "two spaces make an empty word, which no parser accepts";
    EXPECT_EQ(words(" a "), (V{"", "a", ""}));
    EXPECT_EQ(words("tab\tis not a space"), (V{"tab\tis", "not", "a", "space"}));
}

TEST(Text, ParseNumberTakesAWholeNumberInRangeAndNothingElse) {
    EXPECT_EQ(parse_number<int>("42", 0, 100), 42);
    EXPECT_EQ(parse_number<int>("0", 0, 100), 0);
    EXPECT_EQ(parse_number<int>("100", 0, 100), 100);
    EXPECT_EQ(parse_number<int>("-7", -10, 10), -7);
    for (const char* bad : {"", "101", "-1", "+5", " 5", "5 ", "5x", "0x10", "1e2", "--1", "99999999999999999999"})
        EXPECT_FALSE(parse_number<int>(bad, 0, 100)) << bad;
    EXPECT_EQ(parse_number<uint64_t>("18446744073709551615", 0, UINT64_MAX), UINT64_MAX);
    EXPECT_FALSE(parse_number<uint64_t>("18446744073709551616", 0, UINT64_MAX)) << "beyond 64 bits";
    EXPECT_FALSE(parse_number<uint64_t>("-1", 0, UINT64_MAX));
    EXPECT_EQ(parse_number<double>("-0.5", -1.0, 1.0), -0.5);
    EXPECT_EQ(parse_number<double>("1e-3", -1.0, 1.0), 0.001);
    for (const char* bad : {"nan", "NaN", "inf", "-inf", "2", "0.5.1", ""})
        EXPECT_FALSE(parse_number<double>(bad, -1.0, 1.0)) << bad;
}

TEST(Text, QuoteShowsPrintableAsciiOnlyAndCutsLongLines) {
    EXPECT_EQ(quote("GET / HTTP/1.1"), "\"GET / HTTP/1.1\"");
    EXPECT_EQ(quote(std::string_view("a\0b\xff\n", 5)), "\"a?b??\"");
    EXPECT_EQ(quote(std::string(41, 'x')), "\"" + std::string(40, 'x') + "...\"");
    EXPECT_EQ(quote(std::string(40, 'x')), "\"" + std::string(40, 'x') + "\"");
    EXPECT_EQ(quote("abcdef", 3), "\"abc...\"");
}

// io_uring (07's and 08's uring modes): a ring runs a NOP, and says what the kernel supports; where the
// kernel refuses io_uring the constructor's reason says so in words.
TEST(Uring, ARingCompletesANopOrSaysWhyItCannot) {
    try {
        netutil::Ring ring(8);
        io_uring_sqe* sqe = ring.next_sqe();
        ::io_uring_prep_nop(sqe);
        ::io_uring_sqe_set_data64(sqe, 42);
        ASSERT_EQ(::io_uring_submit(ring.get()), 1);
        io_uring_cqe* cqe = nullptr;
        ASSERT_EQ(::io_uring_wait_cqe(ring.get(), &cqe), 0);
        EXPECT_EQ(::io_uring_cqe_get_data64(cqe), 42u);
        EXPECT_EQ(cqe->res, 0);
        ::io_uring_cqe_seen(ring.get(), cqe);
        EXPECT_TRUE(ring.supports(IORING_OP_NOP));
    } catch (const netutil::UringUnavailable& error) {
        EXPECT_NE(std::string(error.what()).find("io_uring is not available here"), std::string::npos);
        GTEST_SKIP() << error.what();
    }
}

TEST(Uring, AFullSubmissionQueueIsSubmittedToMakeRoom) {
    try {
        netutil::Ring ring(4);
        for (int i = 0; i < 10; ++i) ::io_uring_prep_nop(ring.next_sqe());  // more than the 4 slots
        ::io_uring_submit(ring.get());
        int completed = 0;
        io_uring_cqe* cqe = nullptr;
        while (completed < 10 && ::io_uring_wait_cqe(ring.get(), &cqe) == 0) {
            ::io_uring_cqe_seen(ring.get(), cqe);
            ++completed;
        }
        EXPECT_EQ(completed, 10);
    } catch (const netutil::UringUnavailable& error) {
        GTEST_SKIP() << error.what();
    }
}
