// Example: two candidates elect a leader, the leader resigns, the other takes
// over. Usage: example_cpp redis://127.0.0.1:7001 ... (one URL per master)
#include <chrono>
#include <cstdio>
#include <thread>

#include "redlead.hpp"

int main(int argc, char **argv) {
    std::vector<std::string> urls(argv + 1, argv + argc);
    if (urls.empty()) {
        std::fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }
    try {
        redlead::Client client(urls);
        auto print = [](const char *who) {
            return [who](const redlead::Event &e) {
                std::printf("[%s] kind=%d leader=%s term=%llu\n", who, e.kind,
                            e.leader_id ? e.leader_id->c_str() : "(none)", (unsigned long long)e.term);
            };
        };
        redlead::ElectionOptions opts;
        opts.ttl = std::chrono::seconds(2);
        redlead::Election a(client, "example-leader", "a", print("a"), opts);
        for (int i = 0; i < 100 && !a.is_leader(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        redlead::Election b(client, "example-leader", "b", print("b"), opts);
        std::printf("leader: %s\n", a.leader().value_or("(none)").c_str());
        a.resign();
        for (int i = 0; i < 100 && !b.is_leader(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::printf("after resign, b leads: %d (term %llu)\n", b.is_leader(), (unsigned long long)b.term());
        return b.is_leader() ? 0 : 1;
    } catch (const redlead::Error &e) {
        std::fprintf(stderr, "redlead error %d: %s\n", e.status(), e.what());
        return 1;
    }
}
