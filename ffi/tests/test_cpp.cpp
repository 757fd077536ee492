// C++ tests of the header-only wrapper examples/cpp/redlead.hpp against real
// redis-server nodes. Usage: test_cpp URL...
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "redlead.hpp"
#include "test_common.h"

using namespace std::chrono_literals;

template <class F>
static bool eventually(F f, int ms) {
    for (int i = 0; i < ms / 10; i++) {
        if (f()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return f();
}

int main(int argc, char **argv) {
    std::vector<std::string> urls(argv + 1, argv + argc);
    redlead::Options opts;
    opts.retry_delay_ms = 2;
    opts.retry_jitter_ms = 5;
    redlead::Client client(urls, opts);

    {
        auto lock = client.try_acquire("cpp-rt", 10000);
        CHECK("cpp_try_acquire_gives_a_lock", bool(lock) && lock.validity_ms() > 9000);
        auto again = client.try_acquire("cpp-rt", 10000);
        CHECK("cpp_held_lock_gives_empty_lock", !again);
        lock.extend(20000);
        CHECK("cpp_extend", lock.validity_ms() > 15000);
        lock.release();
        bool closed = false;
        try {
            lock.release();
        } catch (const redlead::Error &e) {
            closed = e.status() == REDLEAD_ERR_CLOSED && std::string(e.what()).size() > 0;
        }
        CHECK("cpp_release_twice_throws_closed", closed);
    }
    {
        { auto scoped = client.try_acquire("cpp-scope", 10000); }
        auto after = client.try_acquire("cpp-scope", 10000);
        CHECK("cpp_lock_destructor_releases", bool(after));
    }
    {
        auto a = client.try_acquire("cpp-fence", 5000, true);
        uint64_t t1 = a.fencing_token();
        a.release();
        auto b = client.try_acquire("cpp-fence", 5000, true);
        CHECK("cpp_fencing_tokens_increase", t1 > 0 && b.fencing_token() > t1);
    }
    {
        long counter = 0;
        std::atomic<int> errors{0};
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; t++)
            ts.emplace_back([&] {
                for (int i = 0; i < 10; i++) {
                    auto l = client.acquire("cpp-counter", 5000, 20000);
                    if (!l) { errors++; continue; }
                    long v = counter;
                    std::this_thread::sleep_for(1ms);
                    counter = v + 1;
                }
            });
        for (auto &t : ts) t.join();
        CHECK("cpp_mutual_exclusion_loses_no_update", counter == 40 && errors == 0);
    }
    {
        bool invalid = false;
        try {
            redlead::Client bad({"not a url"});
        } catch (const redlead::Error &e) {
            printf("  bad URL -> %d: %s\n", e.status(), e.what());
            invalid = e.status() == REDLEAD_ERR_INVALID_ARGUMENT && std::string(e.what()).find("URL") != std::string::npos;
        }
        CHECK("cpp_bad_url_throws_invalid_argument", invalid);
    }
    {
        std::mutex mu;
        std::vector<redlead::Event> events;
        std::atomic<int> drops{0};
        struct DropCounter {
            std::atomic<int> *n = nullptr;
            ~DropCounter() { if (n) (*n)++; }
        };
        auto counter = std::make_shared<DropCounter>();
        counter->n = &drops;
        {
            redlead::ElectionOptions eo;
            eo.ttl_ms = 1500;
            eo.retry_interval_ms = 100;
            redlead::Election e(client, "cpp-election", "cpp-a",
                                [&, counter](const redlead::Event &ev) {
                                    std::lock_guard<std::mutex> g(mu);
                                    events.push_back(ev);
                                    if (ev.kind == REDLEAD_EVENT_LEADER_CHANGED) throw std::runtime_error("caught by the wrapper");
                                },
                                eo);
            counter.reset();
            CHECK("cpp_election_elects", eventually([&] { return e.is_leader(); }, 5000));
            CHECK("cpp_election_leader_query", e.leader().value_or("") == "cpp-a");
            CHECK("cpp_election_term", e.term() > 0);
        }
        CHECK("cpp_election_handler_destroyed_once_after_stop", drops == 1);
        std::lock_guard<std::mutex> g(mu);
        bool elected_first = false, revoked_stopped_last = false;
        for (auto &ev : events) if (ev.kind == REDLEAD_EVENT_ELECTED) { elected_first = true; break; } else if (ev.kind == REDLEAD_EVENT_REVOKED) break;
        for (auto &ev : events)
            if (ev.kind == REDLEAD_EVENT_REVOKED) revoked_stopped_last = ev.reason == REDLEAD_REVOKE_STOPPED;
        CHECK("cpp_election_events_in_order", elected_first && revoked_stopped_last);
    }
    printf("cpp: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
