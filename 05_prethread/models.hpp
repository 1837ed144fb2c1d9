// 05_prethread/models.hpp: the server models of lab 05, threads instead of processes.
//
// One process; every wait of every thread also watches one stop pipe (netutil::StopPipe), written by the
// SIGINT/SIGTERM handler, so Ctrl-C wakes a thread wherever it is blocked: in poll before accept, or
// waiting for a client's next request. Threads are joined, never detached.
#pragma once

#include "04_prefork/options.hpp"
#include "04_prefork/protocol.hpp"
#include "netutil/fd.hpp"
#include "netutil/signals.hpp"

#include <string>

namespace prethread {

enum class Model { Thread, Accept, Main };
inline const byte_count::ModeNames<Model> kModels = {
    {"thread", Model::Thread}, {"accept", Model::Accept}, {"main", Model::Main}};
inline std::string model_name(Model model) { return byte_count::mode_name(kModels, model); }
std::string model_description(Model model);

// The command line (server.cpp's parse_settings): what lab 04 shares (../04_prefork/options.hpp), and this
// lab's own.
struct Settings : byte_count::ServerSettings {
    Model model = Model::Accept;
    int nthreads = 5;
    int array_size = 32;  // main model: the shared array of connected descriptors (UNP's MAXNCLI)
};

// What every model gets: the listening socket (non-blocking: threads poll it together with the stop
// pipe, then accept), the stop pipe, the settings.
struct Server {
    netutil::UniqueFd listener;
    const netutil::StopPipe& stop;
    Settings settings;

    // Serves one connection (the byte-count protocol); true if it ended because the server stops.
    // PEER: the client's address, if the caller accepted it.
    bool serve(int fd, const std::string& who, const netutil::SockAddr* peer = nullptr) const {
        return byte_count::serve_and_log(fd, {.stop_fd = stop.fd(), .idle_timeout_ms = settings.idle_timeout_ms()}, who,
                                         peer);
    }
};

// The summary is byte_count::print_summary (../04_prefork/protocol.hpp), with the CPU time of the process.
inline const std::string kCpuNote = "the whole process, every thread";

// The models. Each returns once stopped, every thread joined, after printing the summary.
void run_thread_per_client(Server& server);
void run_prethreaded_accept(Server& server);
void run_main_thread_accept(Server& server);

}  // namespace prethread
