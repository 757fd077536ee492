// Cross-language election candidate in C++ over include/redlead.hpp
// (tests/cross-language/README.md has the protocol and the argument). Usage:
//   candidate-cpp ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...
// Same behaviour as c/candidate.c: while leading, one O_APPEND write of
// "<term> <id> <seq> <t0_ns> <t1_ns>" per tick; commands on stdin, one reply
// line each on stdout.
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "redlead.hpp"

static uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

static void reply(const std::string &line) {
    std::cout << line << std::endl;  // endl flushes: the driver waits for it
}

int main(int argc, char **argv) {
    if (argc < 7) {
        std::cerr << "usage: " << argv[0] << " ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...\n";
        return 2;
    }
    const std::string id = argv[1], resource = argv[3];
    const uint64_t ttl_ms = std::stoull(argv[4]);
    redlead::Options opts;
    opts.node_timeout = redlead::milliseconds(std::stoull(argv[5]));
    const std::vector<std::string> urls(argv + 6, argv + argc);
    // O_APPEND: the kernel orders all processes' records by their write calls.
    const int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        std::perror("candidate-cpp: open record file");
        return 3;
    }
    try {
        redlead::Client client(urls, opts);
        redlead::ElectionOptions eo;
        eo.ttl = redlead::milliseconds(ttl_ms);
        // Leadership is polled with is_leader() right before each append; the
        // events are not needed.
        redlead::Election election(client, resource, id, [](const redlead::Event &) {}, eo);
        reply("ready " + id);

        redlead::Lock held;
        uint64_t seq = 0;
        std::string pending;
        bool running = true;
        while (running) {
            // One thread for commands and appends: nothing is appended for a
            // term after `resign` returned.
            pollfd pfd{0, POLLIN, 0};
            if (poll(&pfd, 1, 5) > 0) {
                char buf[4096];
                ssize_t r = read(0, buf, sizeof buf);
                if (r <= 0) running = false;  // EOF: the driver went away
                else pending.append(buf, size_t(r));
                size_t nl;
                while (running && (nl = pending.find('\n')) != std::string::npos) {
                    std::istringstream in(pending.substr(0, nl));
                    pending.erase(0, nl + 1);
                    std::string cmd, arg;
                    uint64_t num = 0;
                    in >> cmd >> arg >> num;
                    try {
                        if (cmd == "resign") {
                            reply(election.resign() ? "resigned 1" : "resigned 0");
                        } else if (cmd == "lock" || cmd == "try") {
                            redlead::Lock l = client.try_acquire(arg, redlead::milliseconds(num ? num : 1000));
                            if (!l) {
                                reply("not-acquired");
                            } else {
                                if (cmd == "try") l.release();  // a winning try fails the driver's check
                                else held = std::move(l);
                                reply("acquired");
                            }
                        } else if (cmd == "unlock") {
                            if (!held) throw redlead::Error(REDLEAD_ERR_CLOSED, "no lock held");
                            held.release();
                            held.reset();
                            reply("released");
                        } else if (cmd == "quit") {
                            running = false;
                        } else {
                            reply("error unknown command " + cmd);
                        }
                    } catch (const redlead::Error &e) {
                        reply(std::string("error ") + e.what());
                    }
                }
            }
            if (!running) break;
            // term, is_leader, term: a 1 belongs to term1 only if the term did
            // not change around it (terms never repeat).
            const uint64_t t0 = now_ns();
            const uint64_t term1 = election.term();
            const bool leading = election.is_leader();
            const uint64_t term2 = election.term();
            const uint64_t t1 = now_ns();
            if (term1 != 0 && leading && term1 == term2) {
                const std::string rec = std::to_string(term1) + " " + id + " " + std::to_string(++seq) + " " +
                                        std::to_string(t0) + " " + std::to_string(t1) + "\n";
                if (write(fd, rec.data(), rec.size()) != ssize_t(rec.size())) {
                    std::perror("candidate-cpp: append");
                    return 3;
                }
            }
        }
    } catch (const redlead::Error &e) {
        std::cerr << "candidate-cpp: " << e.what() << "\n";
        return 3;
    }
    close(fd);
    reply("bye");
    return 0;
}
